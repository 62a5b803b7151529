"""The AI half of the contract with INFERENCE_MODE=inprocess and tiny synthetic models, on each framework.

Synthetic weights make the text meaningless, so these tests check shapes, metadata and data safety, not quality.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import httpx
import pytest

from api.openapi_check import check_response
from servers import FRAMEWORKS, ApiServer, running_api

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("blogcore.ai.inprocess") is None, reason="the in-process backend is not there yet"
)

TINY_INPROCESS_ENV = {
    "INFERENCE_MODE": "inprocess",
    "MODEL_PROFILE": "tiny",
    "MODEL_SOURCE": "synthetic",
    "TORCH_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
AI_PATHS = {"summarize": "/ai/summarize", "sentiment": "/ai/sentiment", "title": "/ai/title", "tags": "/ai/tags"}
TEXT = "The new release makes the web framework faster, and the community is delighted with the results."


@pytest.fixture(scope="module", params=FRAMEWORKS)
def ai_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with running_api(
        request.param,
        TINY_INPROCESS_ENV,
        tmp_path_factory.mktemp(f"{request.param}-inprocess"),
        threads=2,
        ready_path="/ready",
        timeout_s=180,
    ) as server:
        yield server


@pytest.fixture
def client(ai_api: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ai_api.base_url, timeout=60.0) as client:
        yield client


def test_ready_names_every_model(client: httpx.Client) -> None:
    body = check_response(client.get("/ready"), "/ready")
    assert body["status"] == "ready" and body["inference_mode"] == "inprocess"
    assert set(body["detail"]["models"]) == set(AI_PATHS)
    models = body["detail"]["models"]
    # The generators and the rater are synthetic; the tagger's MiniLM weights ship with a package, so may be real.
    assert all(models[task]["source"] == "synthetic" for task in ("summarize", "sentiment", "title"))
    assert all(model["synthetic_weights"] == (model["source"] == "synthetic") for model in models.values())


@pytest.mark.parametrize("task", list(AI_PATHS))
def test_ai_task_on_text_and_on_post(client: httpx.Client, task: str) -> None:
    path = AI_PATHS[task]
    on_text = client.post(path, json={"text": TEXT})
    assert on_text.status_code == 200, on_text.text
    body = check_response(on_text, path)
    assert body["task"] == task
    meta = body["meta"]
    assert meta["mode"] == "inprocess" and meta["input_truncated"] is False
    assert meta["synthetic_weights"] == (meta["source"] == "synthetic")
    if task != "tags":
        assert meta["synthetic_weights"] is True and "meaningless" in meta["notice"]

    post = check_response(client.post("/posts", json={"title": "t", "body": TEXT}), "/posts")
    on_post = client.post(path, json={"post_id": post["id"]})
    assert on_post.status_code == 200, on_post.text
    check_response(on_post, path)
    assert client.post(path, json={"post_id": 10**12}).status_code == 404


def test_long_text_is_truncated_not_refused(client: httpx.Client) -> None:
    long_text = "word " * 5000
    for task, path in AI_PATHS.items():
        response = client.post(path, json={"text": long_text})
        assert response.status_code == 200, f"{task}: {response.text}"
        assert check_response(response, path)["meta"]["input_truncated"] is True, task


def test_enrich_on_create_and_update(client: httpx.Client) -> None:
    response = client.post("/posts", json={"title": "Enriched", "body": TEXT, "enrich": True})
    assert response.status_code == 201, response.text
    post = check_response(response, "/posts")
    ai = post["ai"]
    assert ai is not None and set(ai["meta"]) == set(AI_PATHS)
    assert 1 <= ai["sentiment"]["stars"] <= 5

    plain_edit = client.put(f"/posts/{post['id']}", json={"title": "Plain edit", "body": "New"})
    kept = check_response(plain_edit, "/posts/{post_id}")
    assert kept["ai"] == ai, "an update without enrich keeps the stored AI results"

    redone = client.put(f"/posts/{post['id']}", json={"title": "Again", "body": TEXT + " More.", "enrich": True})
    assert redone.status_code == 200, redone.text
    assert check_response(redone, "/posts/{post_id}")["ai"] is not None


def test_ai_metrics_are_observed(client: httpx.Client, ai_api: ApiServer) -> None:
    client.post("/ai/sentiment", json={"text": TEXT})
    text = client.get("/metrics").text
    labels = f'framework="{ai_api.framework}",mode="inprocess",outcome="ok",task="sentiment"'
    expected = f"ai_task_duration_seconds_count{{{labels}}}"
    assert expected in text
    assert 'blog_service_info{framework="%s",inference_mode="inprocess"' % ai_api.framework in text


def test_zz_no_worker_died(ai_api: ApiServer) -> None:
    assert ai_api.alive()
    assert ai_api.worker_pids() == ai_api.initial_worker_pids
    assert "Traceback" not in ai_api.log(), ai_api.log()[-4000:]
