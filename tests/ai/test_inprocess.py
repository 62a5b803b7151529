import asyncio
import os
import subprocess
import sys
import threading
import time

import pytest

from blogcore.ai import create_backend, inprocess
from blogcore.ai.backend import AIClientGone, AINotReady, AIOverloaded, AITimeout, Sentiment, Task
from blogcore.ai.compute_gate import ComputeGate, NoGate
from blogcore.ai.inprocess import InProcessBackend
from blogcore.ai_errors_http import http_error_for
from blogcore.workers import WORKER_STATE_DIR_ENV

WAIT_S = 60


def wait_for(condition, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture(scope="module")
def ready_backend(tiny_api_settings):
    backend = create_backend(tiny_api_settings())
    assert isinstance(backend, InProcessBackend)
    backend.start()
    assert backend.wait_until_ready(WAIT_S)
    yield backend
    backend.close()


class BlockingEngine:
    """Stands in for ModelEngine.run_batch: holds every call until released, so tests can fill the queue."""

    def __init__(self):
        self.release = threading.Event()
        self.threads: list[str] = []

    def run_batch(self, task, texts):
        self.threads.append(threading.current_thread().name)
        assert self.release.wait(WAIT_S)
        return [Sentiment(stars=3, score=0.5) for _ in texts]


def test_ready_backend_runs_tasks_and_lists_every_models_info(ready_backend):
    readiness = ready_backend.readiness()
    assert readiness.ready and readiness.detail["phase"] == "ready"
    models = readiness.detail["models"]
    assert set(models) == {str(task) for task in Task}
    assert models["summarize"]["source"] == "synthetic" and models["tags"]["source"] == "hub"
    assert ready_backend.model_info(Task.SENTIMENT).max_input_tokens == 512
    [result] = ready_backend.run(Task.SENTIMENT, ["What a lovely day."])
    assert 1 <= result.stars <= 5
    [result] = asyncio.run(ready_backend.arun(Task.TAGS, ["Python type hints and pytest fixtures."]))
    assert result.tags


def test_requests_before_warm_up_are_refused_with_not_ready(tiny_api_settings, monkeypatch):
    backend = InProcessBackend(tiny_api_settings())
    gate = threading.Event()
    monkeypatch.setattr(backend.engine, "warm_up", lambda: gate.wait(WAIT_S))
    try:
        readiness = backend.readiness()  # starts the per-process warm-up lazily
        assert not readiness.ready
        with pytest.raises(AINotReady) as raised:
            backend.run(Task.TITLE, ["text"])
        answer = http_error_for(raised.value)
        assert answer.status == 503 and answer.code == "ai_not_ready"
        with pytest.raises(AINotReady):
            asyncio.run(backend.arun(Task.TITLE, ["text"]))
        gate.set()
        assert backend.wait_until_ready(WAIT_S) and backend.readiness().ready
    finally:
        gate.set()
        backend.close()


def test_a_failed_load_is_reported_not_raised(tiny_api_settings, monkeypatch):
    backend = InProcessBackend(tiny_api_settings())

    def broken_load():
        raise OSError("disk on fire")

    monkeypatch.setattr(backend.engine, "load", broken_load)
    backend.start()
    assert not backend.wait_until_ready(WAIT_S)
    readiness = backend.readiness()
    assert not readiness.ready and readiness.detail["phase"] == "failed" and "disk on fire" in readiness.detail["error"]
    with pytest.raises(AINotReady, match="disk on fire"):
        backend.run(Task.TAGS, ["text"])


def _guarded_backend(ready_backend, monkeypatch, **update):
    backend = InProcessBackend(ready_backend.settings.model_copy(update={"ai_max_concurrency": 1, **update}))
    monkeypatch.setattr(backend, "engine", ready_backend.engine)
    assert backend.wait_until_ready(WAIT_S)
    return backend


def test_a_call_that_cannot_finish_before_its_deadline_is_refused_at_once(ready_backend, monkeypatch):
    backend = _guarded_backend(ready_backend, monkeypatch, inference_timeout_s=15.0, ai_guard="on")
    backend._state.queue.times.observe(str(Task.SENTIMENT), 10.0)  # as if measured: one call takes 10 s
    blocking = BlockingEngine()
    monkeypatch.setattr(backend, "engine", blocking)
    results = []
    holder = threading.Thread(target=lambda: results.append(backend.run(Task.SENTIMENT, ["x"])))
    try:
        holder.start()
        assert wait_for(lambda: len(blocking.threads) == 1)
        # 10 s of work ahead plus 10 s of its own is past the 15 s deadline: no reason to let it wait.
        started = time.monotonic()
        with pytest.raises(AIOverloaded) as raised:
            backend.run(Task.SENTIMENT, ["x"])
        assert time.monotonic() - started < 1.0
        answer = http_error_for(raised.value)
        assert answer.status == 429 and answer.headers["Retry-After"] == "10"
        with pytest.raises(AIOverloaded):
            asyncio.run(backend.arun(Task.SENTIMENT, ["x"]))
    finally:
        blocking.release.set()
        holder.join(timeout=WAIT_S)
    assert len(results) == 1 and len(blocking.threads) == 1  # the refused calls were never computed
    assert backend.run(Task.SENTIMENT, ["x"])  # the queue is empty again: admitted
    backend.close()


def test_with_the_guard_off_calls_wait_for_a_slot_instead(ready_backend, monkeypatch):
    backend = _guarded_backend(ready_backend, monkeypatch, inference_timeout_s=15.0, ai_guard="off")
    backend._state.queue.times.observe(str(Task.SENTIMENT), 10.0)
    blocking = BlockingEngine()
    monkeypatch.setattr(backend, "engine", blocking)
    results = []
    callers = [threading.Thread(target=lambda: results.append(backend.run(Task.SENTIMENT, ["x"]))) for _ in range(3)]
    try:
        for caller in callers:
            caller.start()
        assert wait_for(lambda: len(blocking.threads) == 1)
        blocking.release.set()
    finally:
        blocking.release.set()
        for caller in callers:
            caller.join(timeout=WAIT_S)
    assert len(results) == 3 and len(blocking.threads) == 3
    backend.close()


def test_a_call_whose_client_left_while_it_waited_is_not_computed(ready_backend, monkeypatch):
    backend = _guarded_backend(ready_backend, monkeypatch, ai_guard="on")
    blocking = BlockingEngine()
    monkeypatch.setattr(backend, "engine", blocking)
    holder = threading.Thread(target=lambda: backend.run(Task.SENTIMENT, ["x"]))
    outcome = []

    def abandoned_call():
        try:
            backend.run(Task.SENTIMENT, ["x"], client_gone=lambda: True)
        except AIClientGone as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=abandoned_call)
    try:
        holder.start()
        assert wait_for(lambda: len(blocking.threads) == 1)
        waiter.start()
        time.sleep(0.1)
    finally:
        blocking.release.set()
        holder.join(timeout=WAIT_S)
        waiter.join(timeout=WAIT_S)
    assert len(outcome) == 1 and http_error_for(outcome[0]).status == 499
    assert len(blocking.threads) == 1
    backend.close()


def test_a_cancelled_async_call_is_dropped_from_the_queue(ready_backend, monkeypatch):
    backend = _guarded_backend(ready_backend, monkeypatch, ai_guard="on")
    blocking = BlockingEngine()
    monkeypatch.setattr(backend, "engine", blocking)

    async def scenario():
        running = asyncio.ensure_future(backend.arun(Task.SENTIMENT, ["first"]))
        while not blocking.threads:
            await asyncio.sleep(0.01)
        queued = asyncio.ensure_future(backend.arun(Task.SENTIMENT, ["second"]))
        await asyncio.sleep(0.1)
        queued.cancel()  # what unless_disconnected does when the client goes
        await asyncio.sleep(0.1)  # the cancellation reaches the executor's queue on the loop's next turn
        blocking.release.set()
        await running
        with pytest.raises(asyncio.CancelledError):
            await queued

    try:
        asyncio.run(scenario())
    finally:
        blocking.release.set()
    assert len(blocking.threads) == 1
    assert wait_for(lambda: backend._state.queue.times is not None and not backend._state.queue._pending)
    backend.close()


def test_arun_runs_on_the_inference_pool_not_the_event_loop(ready_backend, monkeypatch):
    blocking = BlockingEngine()
    blocking.release.set()
    monkeypatch.setattr(ready_backend, "engine", blocking)

    async def call():
        loop_thread = threading.current_thread().name
        result = await ready_backend.arun(Task.SENTIMENT, ["x", "y"])
        return loop_thread, result

    loop_thread, result = asyncio.run(call())
    assert len(result) == 2
    assert blocking.threads[-1].startswith("inference") and blocking.threads[-1] != loop_thread


def test_waiting_longer_than_the_inference_timeout_fails_with_504(ready_backend, monkeypatch):
    settings = ready_backend.settings.model_copy(
        update={"ai_max_concurrency": 1, "ai_guard": "off", "inference_timeout_s": 0.3}
    )
    backend = InProcessBackend(settings)
    monkeypatch.setattr(backend, "engine", ready_backend.engine)
    assert backend.wait_until_ready(WAIT_S)
    blocking = BlockingEngine()
    monkeypatch.setattr(backend, "engine", blocking)
    held = []

    def hold():
        try:
            backend.run(Task.SENTIMENT, ["x"])
        except AITimeout as exc:
            held.append(exc)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert wait_for(lambda: len(blocking.threads) == 1)
        with pytest.raises(AITimeout) as raised:
            backend.run(Task.SENTIMENT, ["x"])
        assert http_error_for(raised.value).status == 504
        holder.join(timeout=WAIT_S)
        # The call that got the model is not waited for past its deadline either
        assert len(held) == 1
    finally:
        blocking.release.set()
        holder.join(timeout=WAIT_S)
    assert len(blocking.threads) == 1  # the one that waited was dropped, never computed
    backend.close()


def test_workers_sharing_a_state_directory_compute_behind_one_gate_with_the_guard_on(
    ready_backend, monkeypatch, tmp_path
):
    monkeypatch.setenv(WORKER_STATE_DIR_ENV, str(tmp_path))
    update = {"web_workers": 2, "ai_compute_slots": 1}
    assert isinstance(_guarded_backend(ready_backend, monkeypatch, ai_guard="on", **update)._gate, ComputeGate)
    assert isinstance(_guarded_backend(ready_backend, monkeypatch, ai_guard="off", **update)._gate, NoGate)
    update["ai_compute_slots"] = 2
    assert isinstance(_guarded_backend(ready_backend, monkeypatch, ai_guard="on", **update)._gate, NoGate)


def test_a_call_whose_deadline_passed_at_the_compute_gate_is_not_computed(ready_backend, monkeypatch, tmp_path):
    backend = _guarded_backend(ready_backend, monkeypatch, ai_guard="on", inference_timeout_s=0.3)
    backend._gate = ComputeGate(tmp_path, 1)
    blocking = BlockingEngine()
    blocking.release.set()
    monkeypatch.setattr(backend, "engine", blocking)
    other_worker = ComputeGate(tmp_path, 1).slot()  # another process's call, computing
    other_worker.__enter__()
    try:
        with pytest.raises(AITimeout):
            backend.run(Task.SENTIMENT, ["x"])
    finally:
        other_worker.__exit__(None, None, None)
    # The model thread gets the slot only now, past the deadline: it lets it go without computing
    assert wait_for(lambda: backend._state.queue._pending == {})
    assert blocking.threads == []
    [result] = backend.run(Task.SENTIMENT, ["x"])  # and the next call computes
    assert result.stars == 3 and len(blocking.threads) == 1
    backend.close()


def test_start_is_idempotent_per_process_and_starts_afresh_after_fork(ready_backend, monkeypatch):
    state = ready_backend._state
    ready_backend.start()
    assert ready_backend._state is state
    monkeypatch.setattr(inprocess.os, "getpid", lambda: state.pid + 100_000)  # as in a forked worker
    ready_backend.start()
    assert ready_backend._state is not state and ready_backend._state.pid == state.pid + 100_000
    assert ready_backend.wait_until_ready(WAIT_S)  # the already loaded models are only warmed up


def test_preload_loads_in_init_without_a_forward_pass_and_warms_up_after_fork(tiny_api_settings, monkeypatch):
    backend = InProcessBackend(tiny_api_settings(preload_models=True))
    assert backend.engine.loaded and not backend.engine.warmed
    backend.start()  # in the preloading (master) process: no warm-up thread, no forward pass
    time.sleep(0.2)
    assert not backend.engine.warmed and not backend._state.warm_started
    master_pid = backend._state.pid
    monkeypatch.setattr(inprocess.os, "getpid", lambda: master_pid + 100_000)
    backend.start()
    assert backend.wait_until_ready(WAIT_S) and backend.engine.warmed
    backend.close()


def test_a_server_that_never_forks_warms_up_on_its_first_probe(tiny_api_settings):
    backend = InProcessBackend(tiny_api_settings(preload_models=True))
    backend.start()
    backend.readiness()
    assert backend.wait_until_ready(WAIT_S)
    backend.close()


FORK_SCRIPT = """
import os, sys, time
from blogcore.ai.backend import Task
from blogcore.ai.inprocess import InProcessBackend
from blogcore.settings import APISettings

settings = APISettings(inference_mode="inprocess", model_profile="tiny", model_source="synthetic",
                       preload_models=True, torch_threads=2)
backend = InProcessBackend(settings)
backend.start()  # as the app factory does in the gunicorn master
pid = os.fork()
if pid == 0:
    backend.start()  # post_fork
    ok = backend.wait_until_ready(60) and len(backend.run(Task.SUMMARIZE, ["a post", "another post"])) == 2
    os._exit(0 if ok else 3)
deadline = time.monotonic() + 90
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        sys.exit(os.waitstatus_to_exitcode(status))
    time.sleep(0.1)
os.kill(pid, 9)
sys.exit(4)
"""


def test_a_forked_worker_of_a_preloading_master_warms_up_and_serves():
    done = subprocess.run([sys.executable, "-c", FORK_SCRIPT], capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr[-2000:]


class PriorityRecordingEngine:
    """Stands in for ModelEngine.run_batch: notes the nice value of the thread that computes."""

    def __init__(self):
        self.nice: list[int] = []

    def run_batch(self, task, texts):
        self.nice.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return [Sentiment(stars=3, score=0.5) for _ in texts]


@pytest.mark.parametrize("guard, yields", [("on", True), ("off", False)])
def test_model_calls_run_at_lower_cpu_priority_only_with_the_guard_on(ready_backend, monkeypatch, guard, yields):
    backend = _guarded_backend(ready_backend, monkeypatch, ai_guard=guard, ai_nice=6)
    recording = PriorityRecordingEngine()
    monkeypatch.setattr(backend, "engine", recording)
    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    backend.run(Task.SENTIMENT, ["x"])
    assert recording.nice == [min(19, ours + 6) if yields else ours]
    backend.close()
