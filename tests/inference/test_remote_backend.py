"""RemoteBackend against an in-process InferenceServer (fake engine): results, status mapping, outage, recovery."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import grpc
import pytest

from bench.processes import free_port
from blogcore.ai import create_backend
from blogcore.ai.backend import (
    AIError,
    AIInvalidInput,
    AIOverloaded,
    AITimeout,
    AIUnavailable,
    Sentiment,
    SuggestedTitle,
    Summary,
    Task,
)
from blogcore.ai.remote import RemoteBackend, error_for_status
from blogcore.ai_errors_http import http_error_for
from blogcore.settings import APISettings
from inference_service.server import InferenceServer
from inference_service.settings import InferenceSettings

from inference_fakes import FakeEngine, HoldableEngine

WAIT_S = 10.0


def backend_for(port: int, timeout_s: float = 5.0) -> RemoteBackend:
    settings = APISettings(inference_mode="remote", inference_addr=f"127.0.0.1:{port}", inference_timeout_s=timeout_s)
    return RemoteBackend(settings)


class ServerThread:
    """An InferenceServer on its own event loop in a thread, so blocking client calls can run in the test."""

    def __init__(self, engine: FakeEngine, **overrides) -> None:
        values = dict(host="127.0.0.1", grpc_port=0, metrics_port=0, batch_max_delay_ms=1, shutdown_grace_s=1)
        self.settings = InferenceSettings(**(values | overrides))
        self.engine = engine
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: InferenceServer | None = None

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        self.server = self._call(self._start())
        return self

    async def _start(self) -> InferenceServer:
        server = InferenceServer(self.settings, self.engine)
        await server.start()
        return server

    def wait_serving(self) -> None:
        self._call(asyncio.wait_for(asyncio.shield(self.server.warm_up), WAIT_S))

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(WAIT_S * 2)

    @property
    def port(self) -> int:
        return self.server.grpc_port

    def __exit__(self, *exc) -> None:
        self.engine.loading.set()
        try:
            self._call(self.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(WAIT_S)
            self.loop.close()


@pytest.mark.parametrize(
    "code, error_type, status",
    [
        (grpc.StatusCode.UNAVAILABLE, AIUnavailable, 503),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, AIOverloaded, 429),
        (grpc.StatusCode.DEADLINE_EXCEEDED, AITimeout, 504),
        (grpc.StatusCode.INVALID_ARGUMENT, AIInvalidInput, 400),
        (grpc.StatusCode.INTERNAL, AIError, 503),
        (grpc.StatusCode.UNKNOWN, AIError, 503),
        (grpc.StatusCode.UNIMPLEMENTED, AIError, 503),
    ],
)
def test_status_codes_map_to_api_errors(code, error_type, status):
    error = error_for_status(code, "details", [("retry-after-s", "3")])
    assert type(error) is error_type
    answer = http_error_for(error)
    assert answer.status == status
    if error_type is AIOverloaded:
        assert answer.headers["Retry-After"] == "3"


def test_retry_after_defaults_to_one_second():
    no_hint = error_for_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "", ())
    unreadable_hint = error_for_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "", [("retry-after-s", "soon")])
    assert http_error_for(no_hint).headers["Retry-After"] == "1"
    assert http_error_for(unreadable_hint).headers == {
        "Retry-After": "1"
    }


def test_run_arun_model_info_and_readiness():
    with ServerThread(FakeEngine()) as service:
        service.wait_serving()
        backend = backend_for(service.port)
        try:
            titles = backend.run(Task.TITLE, ["hello there", "again"])
            assert titles == [SuggestedTitle("Hello There"), SuggestedTitle("Again")]
            assert backend.run(Task.SUMMARIZE, ["abcdefgh"]) == [Summary("abcde", True)]
            [tags] = backend.run(Task.TAGS, ["x"])
            assert tags.tags == (("python", pytest.approx(0.9)), ("web", pytest.approx(0.3)))
            assert asyncio.run(backend.arun(Task.SENTIMENT, ["abc"])) == [Sentiment(4, 0.5)]
            info = backend.model_info(Task.TITLE)
            assert (info.model_id, info.source, info.max_input_tokens) == ("fake/title", "synthetic", 64)
            assert info.extra == {"layers": 2, "note": "fake"}  # types survive the hop
            ready = backend.readiness()
            assert ready.ready and ready.detail["inference_mode"] == "remote"
            assert ready.detail["models"]["tags"]["model_id"] == "fake/tags"
        finally:
            backend.close()


def test_model_info_is_fetched_when_no_answer_carried_it_yet():
    with ServerThread(FakeEngine()) as service:
        service.wait_serving()
        backend = backend_for(service.port)
        try:
            assert backend.model_info(Task.SENTIMENT).model_id == "fake/sentiment"
        finally:
            backend.close()


def test_service_errors_become_api_errors():
    engine = HoldableEngine()
    with ServerThread(engine, batch_queue_size=2, batch_max_size=1, max_text_chars=50) as service:
        service.wait_serving()
        backend = backend_for(service.port, timeout_s=5)
        try:
            with pytest.raises(AIInvalidInput) as caught:
                backend.run(Task.TITLE, ["x" * 51])
            assert http_error_for(caught.value).status == 400 and "longer than 50" in caught.value.message
            with pytest.raises(AIError) as caught:
                backend.run(Task.TITLE, ["boom"])
            assert type(caught.value) is AIError and http_error_for(caught.value).status == 503

            engine.release.clear()
            engine.computing.clear()
            blocker = threading.Thread(target=backend.run, args=(Task.TITLE, ["first"]))
            blocker.start()
            assert engine.computing.wait(WAIT_S)
            fillers = [threading.Thread(target=backend.run, args=(Task.TITLE, ["queued"])) for _ in range(2)]
            for thread in fillers:
                thread.start()
            time.sleep(0.2)
            with pytest.raises(AIOverloaded) as caught:
                backend.run(Task.TITLE, ["one too many"])
            answer = http_error_for(caught.value)
            assert answer.status == 429 and int(answer.headers["Retry-After"]) >= 1

            short = backend_for(service.port, timeout_s=0.3)
            started = time.monotonic()
            with pytest.raises(AITimeout) as caught:
                short.run(Task.SENTIMENT, ["waits behind the held batch"])
            assert http_error_for(caught.value).status == 504 and time.monotonic() - started < 2
            short.close()
            engine.release.set()
            for thread in [blocker, *fillers]:
                thread.join(WAIT_S)
            assert "waits behind the held batch" not in [t for _, texts in engine.batches for t in texts]
        finally:
            engine.release.set()
            backend.close()


def test_not_warm_is_unavailable_and_not_ready():
    engine = FakeEngine()
    engine.loading.clear()
    with ServerThread(engine) as service:
        backend = backend_for(service.port)
        try:
            with pytest.raises(AIUnavailable):
                backend.run(Task.TITLE, ["x"])
            readiness = backend.readiness()
            assert not readiness.ready and readiness.detail["phase"] == "not_serving"
        finally:
            backend.close()


def test_outage_fails_fast_and_recovers_by_itself():
    port = free_port()
    backend = backend_for(port, timeout_s=5)
    try:
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(AIUnavailable) as caught:
                backend.run(Task.TITLE, ["x"])
            assert http_error_for(caught.value).status == 503
            assert time.monotonic() - started < 2.0
        with pytest.raises(AIUnavailable):
            asyncio.run(backend.arun(Task.TITLE, ["x"]))
        assert not backend.readiness().ready

        with ServerThread(FakeEngine(), grpc_port=port) as service:
            service.wait_serving()
            deadline = time.monotonic() + 5
            result = None
            while time.monotonic() < deadline:
                try:
                    result = backend.run(Task.TITLE, ["back again"])
                    break
                except AIUnavailable:
                    time.sleep(0.1)
            assert result == [SuggestedTitle("Back Again")]
            time.sleep(1.1)  # past the readiness cache
            assert backend.readiness().ready
        # and down again: the same backend notices without restarting
        with pytest.raises(AIUnavailable):
            backend.run(Task.TITLE, ["x"])
    finally:
        backend.close()


def test_new_process_gets_new_channels(monkeypatch):
    backend = backend_for(free_port())
    try:
        first = backend._sync_channel()
        assert backend._sync_channel() is first
        monkeypatch.setattr("blogcore.ai.remote.os.getpid", lambda: first.pid + 1)
        assert backend._sync_channel() is not first
    finally:
        monkeypatch.undo()
        backend.close()


def test_remote_mode_never_imports_torch():
    code = (
        "import sys\n"
        "from blogcore.settings import APISettings\n"
        "from blogcore.ai import create_backend\n"
        "settings = APISettings(inference_mode='remote', inference_addr='127.0.0.1:9', inference_timeout_s=1)\n"
        "backend = create_backend(settings)\n"
        "assert backend.mode == 'remote'\n"
        "backend.readiness()\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'tokenizers', 'numpy') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_create_backend_picks_remote():
    backend = create_backend(APISettings(inference_mode="remote", inference_addr="127.0.0.1:9"))
    assert isinstance(backend, RemoteBackend)


def test_results_carry_the_model_that_computed_them():
    with ServerThread(FakeEngine()) as service:
        service.wait_serving()
        backend = backend_for(service.port)
        try:
            [title] = backend.run(Task.TITLE, ["x"])
            [tags] = asyncio.run(backend.arun(Task.TAGS, ["x"]))
            assert (title.model.model_id, tags.model.model_id) == ("fake/title", "fake/tags")
        finally:
            backend.close()


def test_a_call_that_finds_the_service_gone_drops_the_cached_readiness():
    port = free_port()
    backend = backend_for(port, timeout_s=5)
    try:
        with ServerThread(FakeEngine(), grpc_port=port) as service:
            service.wait_serving()
            assert backend.readiness().ready  # cached for READINESS_CACHE_S
        with pytest.raises(AIUnavailable):
            backend.run(Task.TITLE, ["x"])
        # within the cache's second: a probe now asks the service again and hears nothing
        assert not backend.readiness().ready
    finally:
        backend.close()
