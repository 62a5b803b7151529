"""The AI guard: a per-worker bulkhead for AI requests and deadline-aware admission to a model's queue.

A worker's AI requests may hold only its bulkhead's places, so threads (or event-loop time) stay free for the
rest of the API; a request that finds the bulkhead full is refused at once with 429 and Retry-After, without
waiting for anything. Behind the bulkhead, a queue admits a request only if, at the measured service times and the
work already ahead of it, it can finish before its deadline: refusing it now costs the caller a millisecond, while
admitting it would cost a model run whose answer nobody gets.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from blogcore.ai.backend import AIClientGone, AIOverloaded, ClientGoneCheck, Task, never_gone

T = TypeVar("T")
log = logging.getLogger(__name__)

# A new service-time sample weighs this much against the running average: recent enough to follow a change of
# load within a few requests, smooth enough that one slow request does not close the doors.
EWMA_WEIGHT = 0.2


class ServiceTimes:
    """Moving averages of how long one call of each task takes to compute, measured where it runs."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}

    def observe(self, task: str, seconds: float) -> None:
        previous = self._seconds.get(task)
        self._seconds[task] = seconds if previous is None else (1 - EWMA_WEIGHT) * previous + EWMA_WEIGHT * seconds

    def expected(self, task: str) -> float:
        """The average, or 0 before the first sample: an unmeasured task is never refused for time."""
        return self._seconds.get(task, 0.0)


class ThrottledLog:
    """One warning per reason at most every `every_s`, saying how many happened since: an overload refusing
    hundreds of requests a second must show in the log without flooding it."""

    def __init__(self, logger: logging.Logger, every_s: float = 10.0) -> None:
        self.logger = logger
        self.every_s = every_s
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._count: dict[str, int] = {}

    def warning(self, reason: str, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._count[reason] = self._count.get(reason, 0) + 1
            if now - self._last.get(reason, float("-inf")) < self.every_s:
                return
            count, self._count[reason], self._last[reason] = self._count[reason], 0, now
        self.logger.warning("%s (%d since the last such line)", message, count)


refusals = ThrottledLog(log)


def retry_after_s(seconds: float) -> int:
    """Retry-After is whole seconds, at least one."""
    return max(1, math.ceil(seconds))


class DeadlineQueue:
    """Admission to `concurrency` model slots: a call waits only if the work ahead of it leaves time to finish.

    Callers hold a ticket from admit() until their call finished or was abandoned; what they hold is the work
    ahead of the next caller. Thread-safe; nothing here blocks.
    """

    def __init__(self, concurrency: int, times: ServiceTimes) -> None:
        self.concurrency = concurrency
        self.times = times
        self._lock = threading.Lock()
        self._pending: dict[int, float] = {}  # ticket -> its expected compute seconds
        self._next_ticket = 0

    def _expected_wait_s(self) -> float:
        # Running calls count whole: their remaining time is not known, and erring long only refuses earlier.
        if len(self._pending) < self.concurrency:
            return 0.0
        return sum(self._pending.values()) / self.concurrency

    def admit(self, task: Task, budget_s: float) -> int:
        """A ticket, or AIOverloaded at once when the call could not finish within budget_s."""
        own = self.times.expected(str(task))
        with self._lock:
            wait = self._expected_wait_s()
            if wait + own > budget_s:
                message = f"the {task} queue needs about {wait + own:.1f} s, more than the {budget_s:g} s deadline allows"
                refusals.warning("deadline", f"AI request refused: {message}")
                raise AIOverloaded(message, retry_after_s=retry_after_s(wait))
            self._next_ticket += 1
            self._pending[self._next_ticket] = own
            return self._next_ticket

    def leave(self, ticket: int | None) -> None:
        with self._lock:
            self._pending.pop(ticket, None)


# Refusals remembered for Retry-After, at most: a bound on memory whatever the overload.
REFUSALS_REMEMBERED = 4096
# The longest Retry-After the bulkhead gives: a client is not sent away for longer than a typical AI deadline.
MAX_RETRY_AFTER_S = 30


class Bulkhead:
    """At most `size` AI requests of this worker at once; the next one is refused, never made to wait."""

    def __init__(self, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self._clock = clock
        self._lock = threading.Lock()
        self._started: dict[int, float] = {}  # when each place now held was taken, by ticket
        self._next_ticket = 0
        self._request_seconds = 0.0  # moving average of a guarded request's duration, for Retry-After
        self._refused_at: deque[float] = deque(maxlen=REFUSALS_REMEMBERED)
        self._last_retry_after_s = 1

    @property
    def held(self) -> int:
        return len(self._started)

    def _until_a_place_frees(self, now: float) -> float:
        # The request running longest is the likeliest to end first: told to come back after a whole request's
        # time, a refused client would leave the place that frees before then idle, and goodput with it.
        return max(0.0, self._request_seconds - (now - min(self._started.values(), default=now)))

    def _waiting_ahead(self, now: float) -> int:
        # A client told to come back in R seconds is refused about once every R seconds while it waits, so the
        # refusals of the last R seconds count the clients waiting.
        window = self._last_retry_after_s
        while self._refused_at and self._refused_at[0] < now - window:
            self._refused_at.popleft()
        return len(self._refused_at)

    def _retry_after(self, now: float) -> int:
        # The first place to free is the first waiting client's; each later one comes a request time / size after.
        # Told "1" whatever the crowd, 44 clients past 4 places came back 43 times a second for nothing, and those
        # refusals took a tenth of the core the models needed (tiny models, one core, bench.overload).
        ahead = self._waiting_ahead(now)
        self._refused_at.append(now)
        wait = self._until_a_place_frees(now) + ahead * self._request_seconds / self.size
        self._last_retry_after_s = min(MAX_RETRY_AFTER_S, retry_after_s(wait))
        return self._last_retry_after_s

    @contextmanager
    def place(self) -> Iterator[None]:
        with self._lock:
            now = self._clock()
            full = len(self._started) >= self.size
            if full:
                retry_after = self._retry_after(now)
            else:
                ticket = self._next_ticket
                self._next_ticket += 1
                self._started[ticket] = now
        if full:
            refusals.warning("bulkhead", f"AI request refused: the worker's AI bulkhead ({self.size}) is full")
            raise AIOverloaded(
                f"this worker already serves {self.size} AI requests, its limit; other routes are unaffected",
                retry_after_s=retry_after,
            )
        try:
            yield
        finally:
            with self._lock:
                elapsed = self._clock() - self._started.pop(ticket)
                previous = self._request_seconds
                self._request_seconds = elapsed if not previous else (1 - EWMA_WEIGHT) * previous + EWMA_WEIGHT * elapsed


class NoBulkhead:
    """The naive way: every AI request is let in and waits wherever the server makes it wait."""

    held = 0

    @contextmanager
    def place(self) -> Iterator[None]:
        yield


def socket_client_gone(sock: socket.socket | None) -> ClientGoneCheck:
    """For blocking servers: the client is gone when its socket reads end-of-file (a peek, consuming nothing)."""
    if sock is None:
        return never_gone

    def gone() -> bool:
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    return gone


def wsgi_client_gone(environ: dict[str, Any]) -> ClientGoneCheck:
    """The check for a WSGI request; gunicorn hands the client's socket to the app in its environ."""
    return socket_client_gone(environ.get("gunicorn.socket"))


def raise_if_gone(client_gone: ClientGoneCheck) -> None:
    if client_gone():
        raise AIClientGone("the client closed the connection before the AI work started")


async def unless_disconnected(work: Awaitable[T], receive: Callable[[], Awaitable[dict[str, Any]]]) -> T:
    """Await work, cancelling it (and so any of its model calls still queued) if the ASGI client disconnects.

    Once the request body is read, an ASGI server's receive() only returns when the client goes away.
    """
    work_task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnected(receive))
    try:
        done, _ = await asyncio.wait({work_task, watch}, return_when=asyncio.FIRST_COMPLETED)
        if work_task in done:
            return work_task.result()
        work_task.cancel()
        raise AIClientGone("the client closed the connection; its AI work was cancelled")
    finally:
        watch.cancel()
        if not work_task.done():
            work_task.cancel()


async def _disconnected(receive: Callable[[], Awaitable[dict[str, Any]]]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
