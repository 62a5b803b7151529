"""Triton-style dynamic batching for one task.

Calls put their texts in a bounded queue; a single collector forms batches of at most max_size texts, waiting
at most max_delay after the oldest queued text for the batch to fill, and runs each batch on the executor.
Every text is an item: one call with three texts takes three places in the queue and in batches, and its
results come back in order. Admission is all-or-nothing, so a call is either fully queued or refused.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


class BatchError(Exception):
    """A call that gets no result, with the reason a gRPC status can be picked for."""


class QueueFull(BatchError):
    pass


class DeadlineExpired(BatchError):
    pass


class BatcherClosed(BatchError):
    pass


class BatchFailed(BatchError):
    pass


class BatchObserver(Protocol):
    """What the batcher reports, so metrics stay out of the scheduling code."""

    def queue_depth(self, depth: int) -> None: ...

    def batch_formed(self, size: int, queue_waits_s: Sequence[float]) -> None: ...

    def batch_computed(self, size: int, compute_s: float) -> None: ...


class NullObserver:
    def queue_depth(self, depth: int) -> None:
        pass

    def batch_formed(self, size: int, queue_waits_s: Sequence[float]) -> None:
        pass

    def batch_computed(self, size: int, compute_s: float) -> None:
        pass


@dataclass(eq=False)
class _Item:
    text: str
    future: asyncio.Future[Any]
    enqueued_at: float
    deadline: float | None  # on the loop's clock (time.monotonic)
    expired_in_worker: bool = field(default=False)

    def expired(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline


class DynamicBatcher:
    """Batches one task's texts across concurrent calls; run_batch is blocking and runs on the executor."""

    def __init__(
        self,
        name: str,
        run_batch: Callable[[list[str]], list[Any]],
        executor: Executor,
        *,
        max_size: int,
        max_delay_s: float,
        queue_size: int,
        observer: BatchObserver | None = None,
    ) -> None:
        if max_size < 1 or queue_size < 1 or max_delay_s < 0:
            raise ValueError("max_size and queue_size must be >= 1 and max_delay_s >= 0")
        self.name = name
        self.max_size = max_size
        self.max_delay_s = max_delay_s
        self.queue_size = queue_size
        self._run_batch = run_batch
        self._executor = executor
        self._observer = observer or NullObserver()
        self._queue: collections.deque[_Item] = collections.deque()
        self._wakeup = asyncio.Event()
        self._collector: asyncio.Task[None] | None = None
        self._closed = False
        self._batch_seconds = 0.0  # moving average of compute time per batch

    def drain_estimate_s(self) -> float:
        """Roughly how long the texts queued now take to compute: what a refused caller should wait."""
        return self.compute_estimate_s(len(self._queue))

    def compute_estimate_s(self, texts: int) -> float:
        """Roughly how long this many texts take to compute, in full batches; 0 before the first batch ran."""
        return -(-texts // self.max_size) * self._batch_seconds

    @property
    def depth(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        if self._collector is None:
            self._collector = asyncio.get_running_loop().create_task(self._collect(), name=f"batcher-{self.name}")

    async def close(self) -> None:
        """Refuse new calls, fail the queued ones and stop the collector (after the batch it is computing)."""
        self._closed = True
        while self._queue:
            item = self._queue.popleft()
            _settle(item, exc=BatcherClosed("the service is shutting down"))
        self._report_depth()
        if self._collector is not None:
            self._collector.cancel()
            try:
                await self._collector
            except asyncio.CancelledError:
                pass
            self._collector = None

    async def submit(self, texts: Sequence[str], deadline: float | None = None) -> list[Any]:
        """Queue the texts and wait for their results; deadline is an absolute time.monotonic() value."""
        if self._closed:
            raise BatcherClosed("the service is shutting down")
        if not texts:
            return []
        if len(self._queue) + len(texts) > self.queue_size:
            raise QueueFull(f"{self.name} queue is full ({len(self._queue)}/{self.queue_size} texts waiting)")
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        items = [_Item(text, loop.create_future(), now, deadline) for text in texts]
        self._queue.extend(items)
        self._report_depth()
        self._wakeup.set()
        try:
            return list(await asyncio.gather(*(item.future for item in items)))
        except BaseException:
            # Cancelled, or one text failed: nothing of this call may stay queued or be computed later.
            self._withdraw(items)
            raise

    def _withdraw(self, items: list[_Item]) -> None:
        for item in items:
            if not item.future.done():
                item.future.cancel()
            try:
                self._queue.remove(item)
            except ValueError:
                pass
        self._report_depth()

    async def _collect(self) -> None:
        while True:
            batch = await self._form_batch()
            if batch:
                await self._compute(batch)

    async def _form_batch(self) -> list[_Item]:
        while not self._queue:
            self._wakeup.clear()
            await self._wakeup.wait()
        # The oldest text waits at most max_delay for company; a queue that already holds a full batch,
        # or texts that waited through the previous batch's compute, go at once.
        oldest = self._queue[0].enqueued_at
        while len(self._queue) < self.max_size:
            remaining = oldest + self.max_delay_s - time.monotonic()
            if remaining <= 0:
                break
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                break
            if not self._queue:  # everything waiting was withdrawn
                return []
        now = time.monotonic()
        batch: list[_Item] = []
        while self._queue and len(batch) < self.max_size:
            item = self._queue.popleft()
            if item.future.done():
                continue
            if item.expired(now):
                _settle(item, exc=DeadlineExpired("deadline passed while queued"))
                continue
            batch.append(item)
        self._report_depth()
        if batch:
            self._observer.batch_formed(len(batch), [now - item.enqueued_at for item in batch])
        return batch

    async def _compute(self, batch: list[_Item]) -> None:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        try:
            ran, results = await loop.run_in_executor(self._executor, self._run_live, batch)
        except asyncio.CancelledError:
            for item in batch:
                _settle(item, exc=BatcherClosed("the service is shutting down"))
            raise
        except Exception as exc:
            log.exception("%s batch of %d failed", self.name, len(batch))
            for item in batch:
                _settle(item, exc=BatchFailed(f"{self.name} model failed: {type(exc).__name__}"))
            return
        if ran:
            elapsed = time.monotonic() - started
            self._batch_seconds = elapsed if not self._batch_seconds else 0.8 * self._batch_seconds + 0.2 * elapsed
            self._observer.batch_computed(len(ran), elapsed)
        for item in batch:
            if item.expired_in_worker:
                _settle(item, exc=DeadlineExpired("deadline passed while queued"))
        for item, result in zip(ran, results, strict=True):
            _settle(item, result=result)

    def _run_live(self, batch: list[_Item]) -> tuple[list[_Item], list[Any]]:
        """On the executor: drop what expired while the executor was busy, then run the rest as one batch."""
        now = time.monotonic()
        live = []
        for item in batch:
            if item.expired(now):
                item.expired_in_worker = True
            else:
                live.append(item)
        if not live:
            return [], []
        results = self._run_batch([item.text for item in live])
        if len(results) != len(live):
            raise RuntimeError(f"model returned {len(results)} results for {len(live)} texts")
        return live, results

    def _report_depth(self) -> None:
        self._observer.queue_depth(len(self._queue))


def _settle(item: _Item, *, result: Any = None, exc: BaseException | None = None) -> None:
    """Give an item its one outcome; one already settled (cancelled, failed) keeps its first."""
    if item.future.done():
        return
    if exc is not None:
        item.future.set_exception(exc)
    else:
        item.future.set_result(result)
