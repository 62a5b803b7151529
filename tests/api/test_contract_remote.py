"""The AI half of the contract with INFERENCE_MODE=remote: each framework's real server calling a real inference
service (tiny synthetic models) over gRPC; and an outage of that service, which every API must survive.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from api.openapi_check import check_response
from bench.processes import free_port
from blogcore.grpc_gen import inference_pb2 as pb
from blogcore.grpc_gen import inference_pb2_grpc as pb_grpc
from inference_server import InferenceProcess, start_inference
from servers import FRAMEWORKS, ApiServer, running_api, start_api

AI_PATHS = {"summarize": "/ai/summarize", "sentiment": "/ai/sentiment", "title": "/ai/title", "tags": "/ai/tags"}
TEXT = "Tuning PostgreSQL for a small Flask blog: indexes, VACUUM and a connection pool, step by step."


def remote_env(inference: InferenceProcess, timeout_s: float = 10.0) -> dict[str, str]:
    return {
        "INFERENCE_MODE": "remote",
        "INFERENCE_ADDR": inference.address,
        "INFERENCE_TIMEOUT_S": str(timeout_s),
    }


@pytest.fixture(scope="module")
def inference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InferenceProcess]:
    service = start_inference(tmp_path_factory.mktemp("inference-remote") / "inference.log")
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module", params=FRAMEWORKS)
def remote_api(
    request: pytest.FixtureRequest, inference: InferenceProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    workdir = tmp_path_factory.mktemp(f"{request.param}-remote")
    with running_api(request.param, remote_env(inference), workdir) as server:
        yield server


@pytest.fixture
def client(remote_api: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=remote_api.base_url, timeout=30.0) as client:
        yield client


def service_models(inference: InferenceProcess) -> dict[str, pb.ModelInfo]:
    with grpc.insecure_channel(inference.address) as channel:
        reply = pb_grpc.InferenceStub(channel).GetModelInfo(pb.ModelInfoRequest(), timeout=5)
    return {model.task: model for model in reply.models}


def direct(inference: InferenceProcess, task: str, text: str) -> Any:
    method = {"summarize": "Summarize", "sentiment": "Sentiment", "title": "Title", "tags": "Tags"}[task]
    with grpc.insecure_channel(inference.address) as channel:
        return getattr(pb_grpc.InferenceStub(channel), method)(pb.TextBatch(texts=[text]), timeout=10).results[0]


def assert_remote_meta(meta: dict[str, Any], model: pb.ModelInfo) -> None:
    assert meta["mode"] == "remote"
    assert meta["model"] == model.model_id
    assert meta["source"] == model.source
    assert meta["synthetic_weights"] == (model.source == "synthetic")
    assert meta["max_input_tokens"] == model.max_input_tokens


def test_ready_names_the_services_models(client: httpx.Client, inference: InferenceProcess) -> None:
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    body = check_response(response, "/ready")
    assert body["status"] == "ready" and body["inference_mode"] == "remote"
    models = service_models(inference)
    assert {task: m["model"] for task, m in body["detail"]["models"].items()} == {
        task: m.model_id for task, m in models.items()
    }


@pytest.mark.parametrize("task", list(AI_PATHS))
def test_ai_route_answers_through_the_service(client: httpx.Client, inference: InferenceProcess, task: str) -> None:
    path = AI_PATHS[task]
    response = client.post(path, json={"text": TEXT})
    assert response.status_code == 200, response.text
    body = check_response(response, path)
    assert body["task"] == task
    assert_remote_meta(body["meta"], service_models(inference)[task])
    # the API passes the service's answer through unchanged
    expected = direct(inference, task, TEXT)
    if task == "summarize":
        assert body["summary"] == expected.text
    elif task == "title":
        assert body["title"] == expected.text
    elif task == "sentiment":
        assert (body["stars"], body["score"]) == (expected.stars, pytest.approx(expected.score, abs=1e-6))
    else:
        assert [(t["tag"], pytest.approx(t["score"], abs=1e-6)) for t in body["tags"]] == [
            (t.tag, t.probability) for t in expected.tags
        ]

    post = client.post("/posts", json={"title": "A post", "body": TEXT}).json()
    by_id = client.post(path, json={"post_id": post["id"]})
    assert by_id.status_code == 200, by_id.text
    assert check_response(by_id, path) == body


@pytest.fixture(scope="module")
def local_engine() -> Any:
    """The same tiny synthetic models in this process, as INFERENCE_MODE=inprocess would load them."""
    from blogcore.ai.engine import ModelEngine, configure_torch
    from blogcore.settings import ModelSettings

    configure_torch(1)
    engine = ModelEngine(ModelSettings(model_profile="tiny", model_source="synthetic"))
    engine.load()
    return engine


@pytest.mark.parametrize("task", list(AI_PATHS))
def test_remote_answers_equal_in_process_answers(client: httpx.Client, local_engine: Any, task: str) -> None:
    from blogcore.ai.backend import Task

    body = client.post(AI_PATHS[task], json={"text": TEXT}).json()
    [local] = local_engine.run_batch(Task(task), [TEXT])
    if task in ("summarize", "title"):
        assert body["summary" if task == "summarize" else "title"] == local.text
    elif task == "sentiment":
        assert (body["stars"], body["score"]) == (local.stars, pytest.approx(local.score, abs=1e-6))
    else:
        assert [(t["tag"], pytest.approx(t["score"], abs=1e-6)) for t in body["tags"]] == list(local.tags)
    assert body["meta"]["model"] == local_engine.info(Task(task)).model_id


def test_long_text_is_truncated_not_refused(client: httpx.Client) -> None:
    long_text = "word " * 5000
    for task, path in AI_PATHS.items():
        response = client.post(path, json={"text": long_text})
        assert response.status_code == 200, f"{task}: {response.text}"
        assert check_response(response, path)["meta"]["input_truncated"] is True, task


def test_enrichment_runs_all_four_remotely(client: httpx.Client, inference: InferenceProcess) -> None:
    response = client.post("/posts", json={"title": "Enriched", "body": TEXT, "enrich": True})
    assert response.status_code == 201, response.text
    ai = check_response(response, "/posts")["ai"]
    models = service_models(inference)
    for task in AI_PATHS:
        assert_remote_meta(ai["meta"][task], models[task])
    assert ai["suggested_title"] == direct(inference, "title", TEXT).text


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"post_id": 999_999_999}, 404, "not_found"),
        ({"text": ""}, 422, "validation_error"),
        ({}, 422, "validation_error"),
    ],
)
def test_bad_requests_never_reach_the_service(client: httpx.Client, payload: dict, status: int, code: str) -> None:
    response = client.post("/ai/title", json=payload)
    assert response.status_code == status, response.text
    assert check_response(response, "/ai/title")["error"]["code"] == code


def test_zz_no_worker_died(remote_api: ApiServer) -> None:
    assert remote_api.alive(), remote_api.log()[-2000:]
    assert remote_api.worker_pids() == remote_api.initial_worker_pids
    assert "Traceback" not in remote_api.log(), remote_api.log()[-4000:]


# ---- the inference service goes away and comes back --------------------------------------------------------------


def wait_for_ready_status(api: ApiServer, status: int, within_s: float) -> httpx.Response:
    """GET /ready until it answers `status` or the time is up; the last answer either way."""
    deadline = time.monotonic() + within_s
    while True:
        answer = httpx.get(api.url("/ready"), timeout=10)
        if answer.status_code == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def test_outage_gives_503_within_deadline_keeps_posts_and_recovers(tmp_path: Path) -> None:
    port = free_port()
    timeout_s = 3.0
    inference = start_inference(tmp_path / "inference-1.log", {"GRPC_PORT": str(port)})
    apis: dict[str, ApiServer] = {}
    try:
        for framework in FRAMEWORKS:
            apis[framework] = start_api(framework, remote_env(inference, timeout_s), tmp_path / framework)
        for api in apis.values():
            assert httpx.post(api.url("/ai/title"), json={"text": TEXT}, timeout=30).status_code == 200

        assert inference.stop() == 0
        for framework, api in apis.items():
            for path in AI_PATHS.values():
                started = time.monotonic()
                response = httpx.post(api.url(path), json={"text": TEXT}, timeout=30)
                elapsed = time.monotonic() - started
                assert response.status_code == 503, (framework, path, response.text)
                assert check_response(response, path)["error"]["code"] == "ai_unavailable"
                assert elapsed < timeout_s + 1, (framework, path, elapsed)
            # The worker that met the outage says so at once; the other one re-posts its state within
            # POST_INTERVAL_S plus the readiness cache (READINESS_CACHE_S): 1.5 s
            ready = wait_for_ready_status(api, 503, within_s=5.0)
            assert ready.status_code == 503 and check_response(ready, "/ready")["status"] == "not_ready"
            post = {"title": "Still here", "body": "Posts need no AI."}
            created = httpx.post(api.url("/posts"), json=post, timeout=10)
            assert created.status_code == 201, created.text
            assert httpx.get(api.url(f"/posts/{created.json()['id']}"), timeout=10).status_code == 200
            enriched = httpx.post(api.url("/posts"), json={"title": "t", "body": TEXT, "enrich": True}, timeout=30)
            assert enriched.status_code == 503
            # The outage is in the log, in blogcore's format, whichever framework met it.
            assert "[WARNING] blogcore.ai.remote: inference call failed: UNAVAILABLE" in api.log(), api.log()[-3000:]

        inference = start_inference(tmp_path / "inference-2.log", {"GRPC_PORT": str(port)})
        for framework, api in apis.items():
            deadline = time.monotonic() + 15
            status = None
            while time.monotonic() < deadline:
                status = httpx.post(api.url("/ai/title"), json={"text": TEXT}, timeout=30).status_code
                if status == 200:
                    break
                time.sleep(0.2)
            assert status == 200, (framework, api.log()[-2000:])
            assert wait_for_ready_status(api, 200, within_s=5.0).status_code == 200
        for framework, api in apis.items():
            assert api.alive() and "Traceback" not in api.log(), (framework, api.log()[-4000:])
    finally:
        for api in apis.values():
            api.stop()
        inference.stop()
