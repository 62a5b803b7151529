"""INFERENCE_MODE=inprocess: every API worker process holds the models and runs them itself.

ai_max_concurrency model calls run at once per process. With AI_GUARD=on a call is admitted only when the work
ahead of it leaves time to finish before its deadline (the handlers' bulkhead bounds how many can wait at all);
with AI_GUARD=off calls wait for a slot until their deadline, as a naive app's would. Either way a call whose
deadline passed, or whose client left, while it waited is not computed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from blogcore.ai.admission import DeadlineQueue, ServiceTimes, raise_if_gone
from blogcore.ai.backend import (
    ClientGoneCheck,
    never_gone,
    AIBackend,
    AIError,
    AIInvalidInput,
    AINotReady,
    AITimeout,
    ModelInfo,
    Readiness,
    Result,
    Task,
)
from blogcore.ai.compute_gate import compute_gate
from blogcore.ai.cpu_priority import yield_cpu_to_requests
from blogcore.ai.engine import ModelEngine, configure_torch
from blogcore.settings import AIGuard, APISettings
from blogcore.workers import state_dir

log = logging.getLogger(__name__)


class _ProcessState:
    """What must not cross a fork: threads, locks, the executor and the admission queue."""

    def __init__(self, concurrency: int, nice: int):
        self.pid = os.getpid()
        self.slots = threading.BoundedSemaphore(concurrency)
        self.queue = DeadlineQueue(concurrency, ServiceTimes())
        self.executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="inference",
                                           initializer=yield_cpu_to_requests, initargs=(nice,))
        self.warm_started = False
        self.phase = "starting"
        self.error: str | None = None
        self.ready = threading.Event()


class InProcessBackend(AIBackend):
    """Runs the four models in this process, loaded once (before fork with PRELOAD_MODELS) and warmed per worker."""

    mode = "inprocess"

    def __init__(self, settings: APISettings):
        self.settings = settings
        self.engine = ModelEngine(settings)
        guarded = settings.ai_guard == AIGuard.ON
        self._gate = compute_gate(state_dir() if guarded else None, settings.compute_slots,
                                  settings.web_workers * settings.ai_max_concurrency)
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
                    state = _ProcessState(self.settings.ai_max_concurrency, self.settings.effective_ai_nice)
                    self._state = state
                if warm and not state.warm_started:
                    state.warm_started = True
                    threading.Thread(target=self._load_and_warm, args=(state,), name="ai-warm-up", daemon=True).start()
        return state

    def _load_and_warm(self, state: _ProcessState) -> None:
        try:
            # Before the first forward pass, so torch's threads inherit the lower priority
            yield_cpu_to_requests(self.settings.effective_ai_nice)
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
            detail["models"] = {str(task): self.engine.info(task).as_dict() for task in Task}
        return Readiness(state.ready.is_set(), detail)

    def model_info(self, task: Task) -> ModelInfo | None:
        self._process_state()
        return self.engine.info(task) if self.engine.loaded else None

    # -- work ----------------------------------------------------------------------------------------------

    def run(self, task: Task, texts: list[str], client_gone: ClientGoneCheck = never_gone) -> list[Result]:
        """Run one task on a batch on the inference pool, once admitted; the calling thread waits for it until the
        deadline (a call not started by then is dropped)."""
        future = self._submit(task, texts, client_gone)
        try:
            return future.result(timeout=self.settings.inference_timeout_s)
        except FutureTimeout:
            future.cancel()
            raise AITimeout(f"no answer from the model within {self.settings.inference_timeout_s:g} s") from None

    async def arun(self, task: Task, texts: list[str]) -> list[Result]:
        """The same, never on the event loop; cancelling it drops a queued call."""
        return await asyncio.wrap_future(self._submit(task, texts, never_gone))

    def _submit(self, task: Task, texts: list[str], client_gone: ClientGoneCheck) -> Future[list[Result]]:
        # Models run on the pool's threads, never the caller's: those threads yield the CPU to request handling
        # (cpu_priority), which a request thread could not undo after its call without privileges.
        state, ticket = self._admit(task)
        try:
            future = state.executor.submit(self._run_admitted, state, task, texts, time.monotonic(), client_gone)
        except RuntimeError:  # executor shut down by close()
            state.queue.leave(ticket)
            raise AINotReady("the AI backend is closed") from None
        # Runs when the call ends, is cancelled before it started, or fails: the ticket is the work ahead of others.
        future.add_done_callback(lambda _: state.queue.leave(ticket))
        return future

    def _admit(self, task: Task) -> tuple[_ProcessState, int | None]:
        state = self._process_state()
        if not state.ready.is_set():
            detail = f" ({state.error})" if state.error else ""
            raise AINotReady(f"AI models are {state.phase.replace('_', ' ')}{detail}, try again shortly")
        try:
            Task(task)
        except ValueError:
            raise AIInvalidInput(f"unknown AI task {task!r}") from None
        if self.settings.ai_guard == AIGuard.OFF:
            return state, None
        return state, state.queue.admit(task, self.settings.inference_timeout_s)

    def _run_admitted(
        self, state: _ProcessState, task: Task, texts: list[str], enqueued: float, client_gone: ClientGoneCheck
    ) -> list[Result]:
        try:
            wait_s = self.settings.inference_timeout_s - (time.monotonic() - enqueued)
            if wait_s <= 0 or not state.slots.acquire(timeout=wait_s):
                raise AITimeout(f"waited {self.settings.inference_timeout_s:g} s for a free AI slot")
            try:
                started = time.monotonic()
                with self._gate.slot():
                    # Both checks again once the gate let it through: the wait for a host slot may have been long.
                    raise_if_gone(client_gone)
                    if time.monotonic() - enqueued >= self.settings.inference_timeout_s:
                        raise AITimeout(f"no compute slot free within {self.settings.inference_timeout_s:g} s")
                    results = self.engine.run_batch(task, texts)
                # With the wait for a host slot: that is what the next caller's admission must expect too.
                state.queue.times.observe(str(task), time.monotonic() - started)
                return results
            finally:
                state.slots.release()
        except AIError:
            raise
        except Exception as exc:  # never let a model bug take the worker down
            log.exception("in-process %s failed", task)
            raise AIError(f"the {task} model failed ({type(exc).__name__})") from exc


