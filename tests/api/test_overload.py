"""More AI requests at once than a service has threads: the rest of the API keeps answering, the surplus is refused.

Each framework, in process and remote, runs as by default (2 workers of 4 threads, AI guard on) with tiny models
made slow by long generations, so a burst finds every admitted AI request still running. Functional: it asserts
who gets answered and how, never how fast.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from inference_server import InferenceProcess, start_inference
from servers import FRAMEWORKS, ApiServer, running_api

WORKERS, THREADS = 2, 4
BURST = 4 * WORKERS * THREADS  # four times the threads the service has
SLOW_AI_ENV = {"MODEL_PROFILE": "tiny", "MODEL_SOURCE": "synthetic", "SUMMARY_MAX_NEW_TOKENS": "256",
               "TORCH_THREADS": "1", "AI_GUARD": "on"}
TEXT = "A long read on running Python web services: workers, threads, queues and what happens under load. " * 4


@pytest.fixture(scope="module")
def slow_inference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InferenceProcess]:
    service = start_inference(tmp_path_factory.mktemp("overload-inference") / "inference.log", env=SLOW_AI_ENV)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(params=["inprocess", "remote"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=FRAMEWORKS)
def guarded_api(
    request: pytest.FixtureRequest, mode: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    env = {**SLOW_AI_ENV, "INFERENCE_MODE": mode}
    if mode == "remote":
        env["INFERENCE_ADDR"] = request.getfixturevalue("slow_inference").address
    with running_api(request.param, env, tmp_path, workers=WORKERS, threads=THREADS, ready_path="/ready",
                     timeout_s=180) as server:
        yield server


def test_an_ai_burst_is_refused_fast_while_other_routes_answer(guarded_api: ApiServer) -> None:
    with httpx.Client(base_url=guarded_api.base_url, timeout=60.0) as client:
        post_id = client.post("/posts", json={"title": "kept", "body": TEXT}).json()["id"]
        # A first answer teaches deadline-aware admission the summary's cost, as production traffic would.
        assert client.post("/ai/summarize", json={"text": TEXT}).status_code == 200

    answers: list[httpx.Response] = []
    first_refusal = threading.Event()
    lock = threading.Lock()

    def summarize(_: int) -> None:
        with httpx.Client(base_url=guarded_api.base_url, timeout=120.0) as client:
            response = client.post("/ai/summarize", json={"text": TEXT})
        with lock:
            answers.append(response)
        if response.status_code in (429, 503):
            first_refusal.set()

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        burst = [pool.submit(summarize, i) for i in range(BURST)]
        # A refusal means a bulkhead was full, so admitted summaries were running when the reads below went out.
        assert first_refusal.wait(60), "no AI request was refused"
        with httpx.Client(base_url=guarded_api.base_url, timeout=60.0) as client:
            reads = [client.get(f"/posts/{post_id}") for _ in range(5)]
            health = client.get("/health")
        with lock:
            summaries_done_when_read = sum(a.status_code == 200 for a in answers)
        for future in burst:
            future.result()

    assert [r.status_code for r in reads] == [200] * 5 and health.status_code == 200
    summaries = [a for a in answers if a.status_code == 200]
    refusals = [a for a in answers if a.status_code in (429, 503)]
    assert len(answers) == BURST
    assert {a.status_code for a in answers} <= {200, 429, 503}, sorted({a.status_code for a in answers})
    # The reads were answered while admitted AI work was still running: they did not queue behind it.
    assert summaries_done_when_read < len(summaries)
    assert len(refusals) >= BURST - 2 * WORKERS * THREADS
    for refusal in refusals:
        assert int(refusal.headers["Retry-After"]) >= 1
        assert refusal.json()["error"]["code"] in ("ai_overloaded", "ai_unavailable")
    assert guarded_api.worker_pids() == guarded_api.initial_worker_pids, "a worker was restarted"
    # Refusals are logged (throttled), in blogcore's format, by every framework: the API's own guard or, remote,
    # the inference service's.
    refused = r"\[WARNING\] blogcore\.ai\.(admission: AI request refused|remote: inference call failed)"
    assert re.search(refused, guarded_api.log()), guarded_api.log()[-3000:]
