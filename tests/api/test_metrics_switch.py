"""METRICS=off in every framework: CRUD and AI answer as before, nothing is recorded, /metrics answers 404.

The server with metrics on (the session's off_api) gets the same traffic and is the control: its workers write
sample files, so an empty directory on the METRICS=off side means nothing was recorded, not that nothing could be.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.openapi_check import check_response
from servers import ApiServer, running_api

METRICS_OFF_ENV = {"INFERENCE_MODE": "off", "METRICS": "off"}


@pytest.fixture(scope="module")
def metrics_off_api(off_api: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The framework of off_api, started again with METRICS=off."""
    workdir = tmp_path_factory.mktemp(f"{off_api.framework}-metrics-off")
    with running_api(off_api.framework, METRICS_OFF_ENV, workdir) as server:
        yield server


def _crud_and_ai(server: ApiServer) -> None:
    """Create, read, update, list and delete a post, and ask for an AI answer (refused: AI is off)."""
    with httpx.Client(base_url=server.base_url, timeout=10.0) as client:
        created = client.post("/posts", json={"title": "Metrics", "body": "Counted or not."})
        assert created.status_code == 201, created.text
        path = f"/posts/{created.json()['id']}"
        assert client.get(path).json()["title"] == "Metrics"
        updated = client.put(path, json={"title": "Still here", "body": "Changed."})
        assert updated.status_code == 200 and updated.json()["title"] == "Still here"
        assert path in {f"/posts/{post['id']}" for post in check_response(client.get("/posts"), "/posts")["items"]}
        assert client.post("/ai/tags", json={"text": "Oil prices rose."}).status_code == 503
        assert client.delete(path).status_code == 204
        assert client.get(path).status_code == 404


def _sample_files(server: ApiServer) -> list[Path]:
    return list(Path(server.env["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"))


def test_metrics_off_serves_crud_and_records_nothing(off_api: ApiServer, metrics_off_api: ApiServer) -> None:
    _crud_and_ai(off_api)
    _crud_and_ai(metrics_off_api)
    assert _sample_files(off_api), "the control recorded nothing: the check below would prove nothing"
    assert not _sample_files(metrics_off_api), "requests or AI tasks were recorded with METRICS=off"


def test_metrics_off_answers_404_in_the_error_shape(metrics_off_api: ApiServer) -> None:
    response = httpx.get(metrics_off_api.url("/metrics"), timeout=10.0)
    assert response.status_code == 404
    body = check_response(response, "/metrics")
    assert body["error"]["code"] == "metrics_off"
    assert "METRICS=off" in body["error"]["message"]
