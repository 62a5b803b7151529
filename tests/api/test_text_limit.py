"""MAX_TEXT_CHARS takes effect in every framework: longer post bodies and AI texts get 422 naming the field."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api.openapi_check import check_response
from servers import FRAMEWORKS, running_api

LIMIT = 50


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_max_text_chars_is_enforced(framework: str, tmp_path: Path) -> None:
    env = {"INFERENCE_MODE": "off", "MAX_TEXT_CHARS": str(LIMIT)}
    with running_api(framework, env, tmp_path) as server, httpx.Client(base_url=server.base_url) as client:
        created = client.post("/posts", json={"title": "t", "body": "b" * LIMIT})
        assert created.status_code == 201, created.text
        post_id = check_response(created, "/posts")["id"]
        for method, path, template, payload, field in (
            ("POST", "/posts", "/posts", {"title": "t", "body": "b" * (LIMIT + 1)}, "body"),
            ("PUT", f"/posts/{post_id}", "/posts/{post_id}", {"title": "t", "body": "b" * (LIMIT + 1)}, "body"),
            ("POST", "/ai/summarize", "/ai/summarize", {"text": "x" * (LIMIT + 1)}, "text"),
        ):
            response = client.request(method, path, json=payload)
            error = check_response(response, template)["error"]
            assert response.status_code == 422 and error["field"] == field, response.text
            assert f"at most {LIMIT} characters (MAX_TEXT_CHARS)" in error["message"]
        # At the limit the AI route gets past validation to the (disabled) AI.
        assert client.post("/ai/summarize", json={"text": "x" * LIMIT}).status_code == 503
