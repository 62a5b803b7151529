"""The HTTP contract, against each framework's real server with INFERENCE_MODE=off.

Every response is validated against openapi.yaml; bad input must get the documented status, code and field.
The last test proves that no worker died on the way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.openapi_check import check_response
from servers import ApiServer

POSTS = "/posts"
POST = "/posts/{post_id}"
JSON = {"content-type": "application/json"}


@pytest.fixture
def client(off_api: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=off_api.base_url, timeout=10.0) as client:
        yield client


def create(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    payload = {"title": "A post", "body": "Some body text.", **fields}
    response = client.post(POSTS, json=payload)
    assert response.status_code == 201, response.text
    return check_response(response, POSTS)


def assert_error(response: httpx.Response, template: str, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = check_response(response, template)
    assert body["error"]["code"] == code, body
    assert body["error"]["field"] == field, body


# ---- health, readiness, metrics ----------------------------------------------------------------------------------


def test_health(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert check_response(response, "/health") == {"status": "ok"}


def test_ready_reports_off_mode(client: httpx.Client) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    body = check_response(response, "/ready")
    assert body["status"] == "ready" and body["inference_mode"] == "off"
    assert body["detail"]["models"] == {}


def test_metrics_is_prometheus_text(client: httpx.Client, off_api: ApiServer) -> None:
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert f'http_requests_total{{framework="{off_api.framework}",method="GET",route="/health",status="200"}}' in text
    assert 'service_memory_bytes{kind="pss"}' in text
    assert f'blog_service_info{{framework="{off_api.framework}",inference_mode="off"' in text


# ---- CRUD ----------------------------------------------------------------------------------------------------------


def test_create_get_update_delete(client: httpx.Client) -> None:
    response = client.post(POSTS, json={"title": "  Hello  ", "body": "World", "tags": [" Python ", "WEB"]})
    assert response.status_code == 201
    post = check_response(response, POSTS)
    assert response.headers["location"] == f"/posts/{post['id']}"
    assert post["title"] == "Hello" and post["body"] == "World"
    assert post["tags"] == ["python", "web"]
    assert post["ai"] is None and post["created_at"] == post["updated_at"]

    fetched = client.get(f"/posts/{post['id']}")
    assert fetched.status_code == 200 and check_response(fetched, POST) == post

    updated = client.put(f"/posts/{post['id']}", json={"title": "New", "body": "Body 2"})
    assert updated.status_code == 200
    body = check_response(updated, POST)
    assert (body["title"], body["body"], body["tags"]) == ("New", "Body 2", [])
    assert body["created_at"] == post["created_at"] and body["updated_at"] > post["updated_at"]
    assert check_response(client.get(f"/posts/{post['id']}"), POST) == body

    deleted = client.delete(f"/posts/{post['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(client.get(f"/posts/{post['id']}"), POST, 404, "not_found")
    assert_error(client.delete(f"/posts/{post['id']}"), POST, 404, "not_found")
    assert_error(client.put(f"/posts/{post['id']}", json={"title": "x", "body": "y"}), POST, 404, "not_found")


def test_unicode_round_trips_exactly(client: httpx.Client) -> None:
    title = "Ünïcødé ✓ 日本語 🚀"
    body = "Zero width\u200bjoiner, RTL \u05e9\u05dc\u05d5\u05dd, emoji 👩‍💻, and a NUL-free\ttab."
    post = create(client, title=title, body=body, tags=["café"])
    assert (post["title"], post["body"], post["tags"]) == (title, body, ["café"])
    assert check_response(client.get(f"/posts/{post['id']}"), POST)["body"] == body


def test_list_is_paged_newest_first(client: httpx.Client) -> None:
    made = [create(client, title=f"paging {i}")["id"] for i in range(3)]
    first = check_response(client.get(POSTS, params={"page": 1, "page_size": 2}), POSTS)
    second = check_response(client.get(POSTS, params={"page": 2, "page_size": 2}), POSTS)
    assert (first["page"], first["page_size"]) == (1, 2)
    assert len(first["items"]) == 2 and first["total"] >= 3 and second["total"] == first["total"]
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert ids[:3] == made[::-1], "the newest post comes first"
    assert len(set(ids)) == len(ids), "pages do not overlap"
    stamps = [item["created_at"] for item in first["items"] + second["items"]]
    assert stamps == sorted(stamps, reverse=True)


def test_list_defaults_and_bounds(client: httpx.Client) -> None:
    default = check_response(client.get(POSTS), POSTS)
    assert (default["page"], default["page_size"]) == (1, 20)
    assert check_response(client.get(POSTS, params={"page_size": 100}), POSTS)["page_size"] == 100
    beyond = check_response(client.get(POSTS, params={"page": 100000}), POSTS)
    assert beyond["items"] == [] and beyond["total"] == default["total"]
    # repeated parameters: the last one wins everywhere
    assert check_response(client.get("/posts?page_size=1&page_size=3"), POSTS)["page_size"] == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page_size=101", "page_size"),
        ("page_size=0", "page_size"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page_size=1.5", "page_size"),
        ("page=", "page"),
        ("page=99999999999999999999999", "page"),
    ],
)
def test_list_rejects_bad_paging(client: httpx.Client, query: str, field: str) -> None:
    assert_error(client.get(f"{POSTS}?{query}"), POSTS, 422, "validation_error", field)


# ---- bad input -----------------------------------------------------------------------------------------------------

VALID = {"title": "t", "body": "b"}

BAD_BODIES = [
    # (raw body, status, code, field)
    pytest.param(b'{"title": "t", "body": ', 400, "malformed_json", None, id="truncated-json"),
    pytest.param(b"", 400, "malformed_json", None, id="empty"),
    pytest.param(b"   ", 400, "malformed_json", None, id="whitespace"),
    pytest.param(b"{'title': 't'}", 400, "malformed_json", None, id="single-quotes"),
    pytest.param(b'{"title": "t", "body": "b"} trailing', 400, "malformed_json", None, id="trailing-garbage"),
    pytest.param(b"\xff\xfe not utf-8", 400, "malformed_json", None, id="not-utf8"),
    pytest.param(b"[1, 2]", 422, "validation_error", None, id="array"),
    pytest.param(b'"a string"', 422, "validation_error", None, id="string"),
    pytest.param(b"42", 422, "validation_error", None, id="number"),
    pytest.param(b"null", 422, "validation_error", None, id="null"),
    pytest.param(b'{"body": "b"}', 422, "validation_error", "title", id="missing-title"),
    pytest.param(b'{"title": "t"}', 422, "validation_error", "body", id="missing-body"),
    pytest.param(b'{"title": 5, "body": "b"}', 422, "validation_error", "title", id="int-title"),
    pytest.param(b'{"title": null, "body": "b"}', 422, "validation_error", "title", id="null-title"),
    pytest.param(b'{"title": "   ", "body": "b"}', 422, "validation_error", "title", id="blank-title"),
    pytest.param(b'{"title": "\\u00a0\\t", "body": "b"}', 422, "validation_error", "title", id="unicode-blank-title"),
    pytest.param(b'{"title": "t", "body": "b", "tags": ["ok", "  "]}', 422, "validation_error", "tags.1", id="blank-tag"),
    pytest.param(b'{"title": "t", "body": null}', 422, "validation_error", "body", id="null-body"),
    pytest.param(
        json.dumps({"title": "x" * 201, "body": "b"}).encode(), 422, "validation_error", "title", id="long-title"
    ),
    pytest.param(b'{"title": "t", "body": ""}', 422, "validation_error", "body", id="empty-body"),
    pytest.param(b'{"title": "t", "body": "b", "tags": "a"}', 422, "validation_error", "tags", id="tags-not-list"),
    pytest.param(b'{"title": "t", "body": "b", "tags": [1]}', 422, "validation_error", "tags.0", id="tag-not-str"),
    pytest.param(
        json.dumps({**VALID, "tags": [f"t{i}" for i in range(11)]}).encode(), 422, "validation_error", "tags",
        id="too-many-tags",
    ),
    pytest.param(b'{"title": "t", "body": "b", "enrich": "true"}', 422, "validation_error", "enrich", id="str-bool"),
    pytest.param(b'{"title": "t", "body": "b", "enrich": 1}', 422, "validation_error", "enrich", id="int-bool"),
    pytest.param(b'{"title": "t", "body": "b", "author": "me"}', 422, "validation_error", "author", id="extra-field"),
    pytest.param(b'{"title": "t", "body": "b", "id": 7}', 422, "validation_error", "id", id="client-id"),
]


@pytest.mark.parametrize(("raw", "status", "code", "field"), BAD_BODIES)
def test_create_rejects_bad_body(client: httpx.Client, raw: bytes, status: int, code: str, field: str | None) -> None:
    assert_error(client.post(POSTS, content=raw, headers=JSON), POSTS, status, code, field)


@pytest.mark.parametrize(("raw", "status", "code", "field"), BAD_BODIES[:12])
def test_update_rejects_bad_body(client: httpx.Client, raw: bytes, status: int, code: str, field: str | None) -> None:
    post = create(client)
    response = client.put(f"/posts/{post['id']}", content=raw, headers=JSON)
    assert_error(response, POST, status, code, field)
    assert check_response(client.get(f"/posts/{post['id']}"), POST) == post, "a failed update changed the post"


def test_body_limit_is_the_body_not_text(client: httpx.Client) -> None:
    too_long = json.dumps({"title": "t", "body": "x" * 100_001}).encode()
    assert_error(client.post(POSTS, content=too_long, headers=JSON), POSTS, 422, "validation_error", "body")
    longest = create(client, body="y" * 100_000)
    assert len(longest["body"]) == 100_000


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"],
)
def test_wrong_content_type_is_415(off_api: ApiServer, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    raw = json.dumps(VALID).encode()
    with httpx.Client(base_url=off_api.base_url, timeout=10.0) as client:
        for path, template in ((POSTS, POSTS), ("/ai/summarize", "/ai/summarize")):
            request = client.build_request("POST", path, content=raw, headers=headers)
            if content_type is None:
                request.headers.pop("content-type", None)
            assert_error(client.send(request), template, 415, "unsupported_media_type", "Content-Type")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/merge-patch+json"])
def test_json_media_types_are_accepted(client: httpx.Client, content_type: str) -> None:
    response = client.post(POSTS, content=json.dumps(VALID).encode(), headers={"content-type": content_type})
    assert response.status_code == 201
    check_response(response, POSTS)


@pytest.mark.parametrize("path", [POSTS, "/ai/title"])
def test_huge_body_is_413(off_api: ApiServer, path: str) -> None:
    raw = json.dumps({"title": "t", "body": "x" * 1_100_000}).encode()
    before = check_response(httpx.get(off_api.url(POSTS)), POSTS)["total"]
    # A fresh connection: the server may close it instead of reading the rest of the body.
    response = httpx.post(off_api.url(path), content=raw, headers=JSON, timeout=30.0)
    assert_error(response, path, 413, "payload_too_large")
    assert check_response(httpx.get(off_api.url(POSTS)), POSTS)["total"] == before


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nope", 404, "not_found"),
        ("GET", "/posts/", 404, "not_found"),
        ("GET", "/posts/abc", 404, "not_found"),
        ("GET", "/posts/-1", 404, "not_found"),
        ("GET", "/posts/1.5", 404, "not_found"),
        ("GET", "/posts/0", 404, "not_found"),
        ("GET", "/posts/99999999999999999999999999", 404, "not_found"),
        # past gunicorn's default request line and Python's 4300-digit int() limit: still the JSON 404
        ("GET", "/posts/" + "9" * 5000, 404, "not_found"),
        ("DELETE", "/posts/" + "1" * 5000, 404, "not_found"),
        ("GET", "/ai/translate", 404, "not_found"),
        ("DELETE", "/health", 405, "method_not_allowed"),
        ("POST", "/ready", 405, "method_not_allowed"),
        ("PATCH", "/posts/1", 405, "method_not_allowed"),
        ("DELETE", "/posts", 405, "method_not_allowed"),
        ("GET", "/ai/summarize", 405, "method_not_allowed"),
    ],
)
def test_unknown_routes_and_methods(client: httpx.Client, method: str, path: str, status: int, code: str) -> None:
    response = client.request(method, path)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["status"] == status
    if status == 405:
        assert method not in response.headers["allow"] and "allow" in response.headers
    from api.openapi_check import check

    check(body, "Error")


# ---- AI routes with AI off -----------------------------------------------------------------------------------------

AI_PATHS = ["/ai/summarize", "/ai/sentiment", "/ai/title", "/ai/tags"]


@pytest.mark.parametrize("path", AI_PATHS)
def test_ai_is_disabled(client: httpx.Client, path: str) -> None:
    assert_error(client.post(path, json={"text": "Lovely weather."}), path, 503, "ai_disabled")
    post = create(client)
    assert_error(client.post(path, json={"post_id": post["id"]}), path, 503, "ai_disabled")


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ({"post_id": 999_999_999}, 404, "not_found", None),
        ({"text": "a", "post_id": 1}, 422, "validation_error", None),
        ({}, 422, "validation_error", None),
        ({"text": ""}, 422, "validation_error", "text"),
        ({"text": 5}, 422, "validation_error", "text"),
        ({"text": None}, 422, "validation_error", "text"),
        ({"post_id": 1, "text": None}, 422, "validation_error", "text"),
        ({"text": "a", "post_id": None}, 422, "validation_error", "post_id"),
        ({"post_id": 999_999_999.0}, 404, "not_found", None),
        ({"post_id": "1"}, 422, "validation_error", "post_id"),
        ({"post_id": 0}, 422, "validation_error", "post_id"),
        ({"post_id": 1.5}, 422, "validation_error", "post_id"),
        ({"post_id": 2**63}, 422, "validation_error", "post_id"),
        ({"text": "a", "lang": "en"}, 422, "validation_error", "lang"),
        ({"text": "x" * 100_001}, 422, "validation_error", "text"),
    ],
)
@pytest.mark.parametrize("path", ["/ai/summarize", "/ai/tags"])
def test_ai_rejects_bad_requests(
    client: httpx.Client, path: str, payload: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    assert_error(client.post(path, json=payload), path, status, code, field)


# ---- data is never lost ----------------------------------------------------------------------------------------------


def test_failed_enrichment_stores_nothing(client: httpx.Client) -> None:
    before = check_response(client.get(POSTS), POSTS)["total"]
    response = client.post(POSTS, json={**VALID, "enrich": True})
    assert_error(response, POSTS, 503, "ai_disabled")
    assert check_response(client.get(POSTS), POSTS)["total"] == before


def test_failed_enrichment_changes_nothing(client: httpx.Client) -> None:
    post = create(client, tags=["keep"])
    response = client.put(f"/posts/{post['id']}", json={"title": "changed", "body": "changed", "enrich": True})
    assert_error(response, POST, 503, "ai_disabled")
    assert check_response(client.get(f"/posts/{post['id']}"), POST) == post


# ---- last: nothing above killed a worker ---------------------------------------------------------------------------


def test_zz_no_worker_died(off_api: ApiServer) -> None:
    assert off_api.alive(), off_api.log()[-2000:]
    assert off_api.worker_pids() == off_api.initial_worker_pids, off_api.log()[-2000:]
    assert httpx.get(off_api.url("/health")).status_code == 200
    assert "Traceback" not in off_api.log(), off_api.log()[-4000:]
