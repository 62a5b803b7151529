"""DynamicBatcher against a fake model: batching, limits, deadlines, cancellation, failures."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from inference_service.batcher import BatcherClosed, BatchFailed, DeadlineExpired, DynamicBatcher, QueueFull

WAIT_S = 5.0


class FakeModel:
    """Uppercases texts, records every batch, and can be held mid-batch to let a queue build up."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()
        self.fail_on: str | None = None

    def __call__(self, texts: list[str]) -> list[str]:
        self.batches.append(list(texts))
        self.entered.set()
        if not self.release.wait(WAIT_S):
            raise RuntimeError("test never released the model")
        if self.fail_on in texts:
            raise ValueError("model exploded")
        return [text.upper() for text in texts]

    @property
    def seen(self) -> list[str]:
        return [text for batch in self.batches for text in batch]

    def hold(self) -> None:
        self.release.clear()
        self.entered.clear()


def run(coro_fn, **batcher_kwargs):
    """Run coro_fn(batcher, model) on a fresh loop with a started batcher, closing everything after."""
    model = FakeModel()
    executor = ThreadPoolExecutor(max_workers=1)
    kwargs = dict(max_size=8, max_delay_s=0.005, queue_size=64) | batcher_kwargs

    async def main():
        batcher = DynamicBatcher("test", model, executor, **kwargs)
        batcher.start()
        try:
            return await asyncio.wait_for(coro_fn(batcher, model), WAIT_S * 2)
        finally:
            model.release.set()
            await batcher.close()

    try:
        return asyncio.run(main())
    finally:
        model.release.set()
        executor.shutdown(wait=True)


async def wait_until_computing(model: FakeModel) -> None:
    assert await asyncio.to_thread(model.entered.wait, WAIT_S), "model never started a batch"


def test_concurrent_calls_share_one_batch():
    async def scenario(batcher, model):
        results = await asyncio.gather(*(batcher.submit([f"t{i}"]) for i in range(8)))
        assert results == [[f"T{i}"] for i in range(8)]
        assert [len(batch) for batch in model.batches] == [8]

    run(scenario, max_size=8, max_delay_s=0.5)


def test_batches_never_exceed_max_size():
    async def scenario(batcher, model):
        results = await asyncio.gather(*(batcher.submit([f"t{i}"]) for i in range(21)))
        assert results == [[f"T{i}"] for i in range(21)]
        assert max(len(batch) for batch in model.batches) <= 4
        assert sorted(model.seen) == sorted(f"t{i}" for i in range(21))
        assert len(model.batches) >= 6  # 21 texts in batches of at most 4

    run(scenario, max_size=4, max_delay_s=0.05)


def test_lone_call_waits_at_most_max_delay():
    async def scenario(batcher, model):
        started = time.monotonic()
        assert await batcher.submit(["alone"]) == ["ALONE"]
        waited = time.monotonic() - started
        assert 0.2 <= waited < 1.5, waited
        assert model.batches == [["alone"]]

    run(scenario, max_size=8, max_delay_s=0.2)


def test_zero_delay_does_not_wait_for_company():
    async def scenario(batcher, model):
        started = time.monotonic()
        assert await batcher.submit(["now"]) == ["NOW"]
        assert time.monotonic() - started < 0.2

    run(scenario, max_size=8, max_delay_s=0.0)


def test_texts_of_one_call_are_items_and_come_back_in_order():
    async def scenario(batcher, model):
        calls = [[f"c{c}-{i}" for i in range(3)] for c in range(10)]
        results = await asyncio.gather(*(batcher.submit(texts) for texts in calls))
        assert results == [[text.upper() for text in texts] for texts in calls]
        # 30 texts in batches of 4: calls straddle batches and still get exactly their own results
        assert max(len(batch) for batch in model.batches) <= 4
        assert sorted(model.seen) == sorted(text for texts in calls for text in texts)

    run(scenario, max_size=4, max_delay_s=0.01)


def test_full_queue_refuses_at_once():
    async def scenario(batcher, model):
        model.hold()
        computing = asyncio.ensure_future(batcher.submit(["first"]))
        await wait_until_computing(model)
        queued = asyncio.ensure_future(batcher.submit(["a", "b"]))
        await asyncio.sleep(0.01)
        assert batcher.depth == 2
        started = time.monotonic()
        with pytest.raises(QueueFull):
            await batcher.submit(["overflow"])
        assert time.monotonic() - started < 0.1
        model.release.set()
        assert await computing == ["FIRST"]
        assert await queued == ["A", "B"]
        assert "overflow" not in model.seen

    run(scenario, max_size=8, max_delay_s=0.0, queue_size=2)


def test_expired_call_is_dropped_before_compute():
    async def scenario(batcher, model):
        model.hold()
        computing = asyncio.ensure_future(batcher.submit(["first"]))
        await wait_until_computing(model)
        late = asyncio.ensure_future(batcher.submit(["late"], deadline=time.monotonic() + 0.05))
        patient = asyncio.ensure_future(batcher.submit(["patient"], deadline=time.monotonic() + 30))
        await asyncio.sleep(0.15)
        model.release.set()
        assert await computing == ["FIRST"]
        with pytest.raises(DeadlineExpired):
            await late
        assert await patient == ["PATIENT"]
        assert "late" not in model.seen

    run(scenario, max_size=8, max_delay_s=0.0)


def test_cancelled_call_leaves_queue_and_is_never_computed():
    async def scenario(batcher, model):
        model.hold()
        computing = asyncio.ensure_future(batcher.submit(["first"]))
        await wait_until_computing(model)
        doomed = asyncio.ensure_future(batcher.submit(["doomed", "doomed-too"]))
        await asyncio.sleep(0.01)
        assert batcher.depth == 2
        doomed.cancel()
        await asyncio.sleep(0.01)
        assert batcher.depth == 0
        model.release.set()
        assert await computing == ["FIRST"]
        assert await batcher.submit(["after"]) == ["AFTER"]
        assert "doomed" not in model.seen and "doomed-too" not in model.seen

    run(scenario, max_size=8, max_delay_s=0.0)


def test_model_failure_fails_that_batch_only():
    async def scenario(batcher, model):
        model.fail_on = "bad"
        outcomes = await asyncio.gather(batcher.submit(["bad"]), batcher.submit(["fine"]), return_exceptions=True)
        assert all(isinstance(outcome, BatchFailed) for outcome in outcomes)
        model.fail_on = None
        assert await batcher.submit(["again"]) == ["AGAIN"]

    run(scenario, max_size=8, max_delay_s=0.05)


def test_wrong_result_count_is_a_failure_not_a_mismatch():
    async def scenario(batcher, model):
        with pytest.raises(BatchFailed):
            await batcher.submit(["x", "y"])

    model_returning_too_few = lambda texts: texts[:1]  # noqa: E731
    executor = ThreadPoolExecutor(max_workers=1)

    async def main():
        batcher = DynamicBatcher("short", model_returning_too_few, executor, max_size=4, max_delay_s=0, queue_size=8)
        batcher.start()
        try:
            await asyncio.wait_for(scenario(batcher, None), WAIT_S)
        finally:
            await batcher.close()

    try:
        asyncio.run(main())
    finally:
        executor.shutdown(wait=True)


def test_every_call_gets_exactly_one_outcome_under_mixed_load():
    async def scenario(batcher, model):
        now = time.monotonic()
        calls = []
        for i in range(40):
            deadline = now + 0.001 if i % 5 == 0 else None  # some expire before their batch forms
            calls.append(asyncio.ensure_future(batcher.submit([f"m{i}"], deadline=deadline)))
        await asyncio.sleep(0)
        calls[3].cancel()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert len(outcomes) == 40
        for i, outcome in enumerate(outcomes):
            if i == 3:
                assert isinstance(outcome, asyncio.CancelledError)
            elif isinstance(outcome, list):
                assert outcome == [f"M{i}"]
            else:
                assert isinstance(outcome, (DeadlineExpired, QueueFull)), outcome
        # nothing is computed twice
        assert len(model.seen) == len(set(model.seen))
        assert batcher.depth == 0

    run(scenario, max_size=4, max_delay_s=0.002, queue_size=64)


def test_close_fails_queued_calls_and_refuses_new_ones():
    async def scenario(batcher, model):
        model.hold()
        computing = asyncio.ensure_future(batcher.submit(["first"]))
        await wait_until_computing(model)
        queued = asyncio.ensure_future(batcher.submit(["queued"]))
        await asyncio.sleep(0.01)
        model.release.set()
        await batcher.close()
        with pytest.raises(BatcherClosed):
            await queued
        with pytest.raises(BatcherClosed):
            await batcher.submit(["later"])
        await asyncio.gather(computing, return_exceptions=True)

    run(scenario, max_size=8, max_delay_s=0.0)


def test_drain_estimate_follows_compute_time():
    async def scenario(batcher, model):
        assert batcher.drain_estimate_s() == 0  # nothing computed yet: no basis for a guess
        slow = model.__call__

        def slow_model(texts):
            time.sleep(0.1)
            return slow(texts)

        batcher._run_batch = slow_model
        await batcher.submit(["a", "b"])
        model.hold()
        computing = asyncio.ensure_future(batcher.submit(["c"]))
        await wait_until_computing(model)
        queued = asyncio.ensure_future(batcher.submit(["d", "e", "f"]))
        await asyncio.sleep(0.01)
        assert 0.15 <= batcher.drain_estimate_s() <= 0.6  # two batches of about 0.1 s
        model.release.set()
        await asyncio.gather(computing, queued)

    run(scenario, max_size=2, max_delay_s=0.0)
