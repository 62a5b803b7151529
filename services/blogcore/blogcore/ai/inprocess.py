"""INFERENCE_MODE=inprocess: every API worker process holds the models and runs them itself.

Admission is bounded per process: ai_max_concurrency requests run at once and at most ai_max_queue more wait;
anything beyond is refused at once with 429 so that a saturated worker sheds load instead of queueing forever.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from blogcore.ai.backend import (
    AIBackend,
    AIError,
    AIInvalidInput,
    AINotReady,
    AIOverloaded,
    AITimeout,
    ModelInfo,
    Readiness,
    Result,
    Task,
)
from blogcore.ai.engine import Engine, configure_torch
from blogcore.settings import APISettings

log = logging.getLogger(__name__)


class _ProcessState:
    """What must not cross a fork: threads, locks, the executor and the admission counters."""

    def __init__(self, concurrency: int):
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(concurrency)
        self.admitted = 0  # running + waiting
        self.executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="inference")
        self.warm_started = False
        self.phase = "starting"
        self.error: str | None = None
        self.ready = threading.Event()


class InProcessBackend(AIBackend):
    """Runs the four models in this process, loaded once (before fork with PRELOAD_MODELS) and warmed per worker."""

    mode = "inprocess"

    def __init__(self, settings: APISettings):
        self.settings = settings
        self.engine = Engine(settings)
        self._state: _ProcessState | None = None
        self._start_lock = threading.Lock()
        self._preloaded_in: int | None = None
        if settings.preload_models:
            # Runs in the gunicorn master: one torch thread and no forward pass, so no OpenMP pool exists at fork;
            # workers then share the weights copy-on-write and set up their own threads in start().
            configure_torch(1)
            self.engine.load()
            self._preloaded_in = os.getpid()

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Begin loading and warming up in a background thread; idempotent per process.

        In the process that preloaded (the gunicorn master) it does nothing more: a forward pass there would
        create OpenMP threads that the forked workers inherit broken. Workers warm up when start() runs after
        fork; a server that never forks warms up on its first readiness probe or request.
        """
        self._process_state(warm=os.getpid() != self._preloaded_in)

    def _process_state(self, warm: bool = True) -> _ProcessState:
        state = self._state
        if state is None or state.pid != os.getpid() or (warm and not state.warm_started):
            with self._start_lock:
                state = self._state
                if state is None or state.pid != os.getpid():
                    state = _ProcessState(self.settings.ai_max_concurrency)
                    self._state = state
                if warm and not state.warm_started:
                    state.warm_started = True
                    threading.Thread(target=self._load_and_warm, args=(state,), name="ai-warm-up", daemon=True).start()
        return state

    def _load_and_warm(self, state: _ProcessState) -> None:
        try:
            configure_torch(self.settings.effective_torch_threads)
            if not self.engine.loaded:
                state.phase = "loading"
                self.engine.load()
            state.phase = "warming_up"
            self.engine.warm_up()
            state.phase = "ready"
            state.ready.set()
        except Exception as exc:  # readiness reports it; requests get 503 instead of a dead worker
            log.exception("AI models failed to load or warm up")
            state.phase = "failed"
            state.error = f"{type(exc).__name__}: {exc}"

    def wait_until_ready(self, timeout_s: float) -> bool:
        """Block until warm-up finished (or failed, or the timeout passed); for tests and scripts."""
        state = self._process_state()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and state.phase != "failed":
            if state.ready.wait(timeout=0.1):
                return True
        return state.ready.is_set()

    def close(self) -> None:
        """Stop taking work; queued jobs are cancelled, running ones finish in their threads."""
        state = self._state
        if state is not None and state.pid == os.getpid():
            state.executor.shutdown(wait=False, cancel_futures=True)

    # -- status --------------------------------------------------------------------------------------------

    def readiness(self) -> Readiness:
        state = self._process_state()
        detail: dict[str, Any] = {"inference_mode": self.mode, "phase": state.phase}
        if state.error:
            detail["error"] = state.error
        if self.engine.loaded:
            detail["models"] = {str(task): _info_dict(self.engine.info(task)) for task in Task}
        return Readiness(state.ready.is_set(), detail)

    def model_info(self, task: Task) -> ModelInfo | None:
        self._process_state()
        return self.engine.info(task) if self.engine.loaded else None

    # -- work ----------------------------------------------------------------------------------------------

    def run(self, task: Task, texts: list[str]) -> list[Result]:
        """Run one task on a batch in the calling thread, within the admission bounds."""
        state = self._admit(task, texts)
        return self._run_admitted(state, task, texts, time.monotonic())

    async def arun(self, task: Task, texts: list[str]) -> list[Result]:
        """The same on the inference thread pool, never on the event loop."""
        state = self._admit(task, texts)
        loop = asyncio.get_running_loop()
        try:
            future = state.executor.submit(self._run_admitted, state, task, texts, time.monotonic())
        except RuntimeError:  # executor shut down by close()
            self._leave(state)
            raise AINotReady("the AI backend is closed") from None
        return await asyncio.wrap_future(future, loop=loop)

    def _admit(self, task: Task, texts: list[str]) -> _ProcessState:
        state = self._process_state()
        if not state.ready.is_set():
            detail = f" ({state.error})" if state.error else ""
            raise AINotReady(f"AI models are {state.phase.replace('_', ' ')}{detail}, try again shortly")
        try:
            Task(task)
        except ValueError:
            raise AIInvalidInput(f"unknown AI task {task!r}") from None
        with state.lock:
            if state.admitted >= self.settings.ai_max_concurrency + self.settings.ai_max_queue:
                raise AIOverloaded("too many AI requests in this worker, retry shortly", retry_after_s=1)
            state.admitted += 1
        return state

    def _leave(self, state: _ProcessState) -> None:
        with state.lock:
            state.admitted -= 1

    def _run_admitted(self, state: _ProcessState, task: Task, texts: list[str], enqueued: float) -> list[Result]:
        try:
            wait_s = self.settings.inference_timeout_s - (time.monotonic() - enqueued)
            if wait_s <= 0 or not state.slots.acquire(timeout=wait_s):
                raise AITimeout(f"waited {self.settings.inference_timeout_s:g} s for a free AI slot")
            try:
                return self.engine.run_batch(task, texts)
            finally:
                state.slots.release()
        except AIError:
            raise
        except Exception as exc:  # never let a model bug take the worker down
            log.exception("in-process %s failed", task)
            raise AIError(f"the {task} model failed ({type(exc).__name__})") from exc
        finally:
            self._leave(state)


def _info_dict(info: ModelInfo) -> dict[str, Any]:
    data = asdict(info)
    data["task"] = str(info.task)
    return data
