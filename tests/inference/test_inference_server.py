"""InferenceServer in this process with a fake engine: health before and after warm-up, validation, status codes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from blogcore.ai.backend import Task
from blogcore.grpc_gen import inference_pb2 as pb
from blogcore.grpc_gen import inference_pb2_grpc as pb_grpc
import inference_service
from inference_service.server import SERVICE_NAME, InferenceServer, serve
from inference_service.settings import InferenceSettings

from inference_fakes import FakeEngine, HoldableEngine

WAIT_S = 5.0


def settings(**overrides) -> InferenceSettings:
    values = dict(host="127.0.0.1", grpc_port=0, metrics_port=0, batch_max_delay_ms=1, shutdown_grace_s=2)
    return InferenceSettings(**(values | overrides))


def run_with_server(scenario, engine: FakeEngine | None = None, **overrides):
    engine = engine or FakeEngine()

    async def main():
        server = InferenceServer(settings(**overrides), engine)
        await server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}")
        try:
            await asyncio.wait_for(scenario(server, channel, engine), WAIT_S * 2)
        finally:
            engine.loading.set()
            await channel.close()
            await server.stop()

    asyncio.run(main())


async def health_status(channel, service: str = "") -> str:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


async def wait_serving(server: InferenceServer) -> None:
    await asyncio.wait_for(asyncio.shield(server.warm_up), WAIT_S)


def test_not_serving_until_warm_then_serving():
    async def scenario(server, channel, engine):
        assert await health_status(channel) == "NOT_SERVING"
        assert await health_status(channel, SERVICE_NAME) == "NOT_SERVING"
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await pb_grpc.InferenceStub(channel).Title(pb.TextBatch(texts=["x"]), timeout=2)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        engine.loading.set()
        await wait_serving(server)
        assert await health_status(channel) == "SERVING"
        assert await health_status(channel, SERVICE_NAME) == "SERVING"

    engine = FakeEngine()
    engine.loading.clear()
    run_with_server(scenario, engine)


def test_each_task_answers_in_order_with_its_model():
    async def scenario(server, channel, engine):
        await wait_serving(server)
        stub = pb_grpc.InferenceStub(channel)
        texts = ["hello world", "ab"]
        titles = await stub.Title(pb.TextBatch(texts=texts), timeout=2)
        assert [r.text for r in titles.results] == ["Hello World", "Ab"]
        assert titles.model.model_id == "fake/title" and titles.model.source == "synthetic"
        summaries = await stub.Summarize(pb.TextBatch(texts=texts), timeout=2)
        assert [(r.text, r.truncated) for r in summaries.results] == [("hello", True), ("ab", False)]
        sentiments = await stub.Sentiment(pb.TextBatch(texts=texts), timeout=2)
        assert [r.stars for r in sentiments.results] == [2, 3]
        tags = await stub.Tags(pb.TextBatch(texts=texts), timeout=2)
        assert [(t.tag, round(t.probability, 3)) for t in tags.results[0].tags] == [("python", 0.9), ("web", 0.3)]
        infos = await stub.GetModelInfo(pb.ModelInfoRequest(), timeout=2)
        assert sorted(m.task for m in infos.models) == sorted(t.value for t in Task)
        one = await stub.GetModelInfo(pb.ModelInfoRequest(task="tags"), timeout=2)
        assert [m.model_id for m in one.models] == ["fake/tags"]

    run_with_server(scenario)


@pytest.mark.parametrize(
    "texts, fragment",
    [
        ([], "at least one"),
        (["fine", "  "], "texts[1] is empty"),
        (["x" * 101], "longer than 100"),
        (["t"] * 5, "at most 4"),
    ],
)
def test_bad_input_is_invalid_argument_and_never_computed(texts, fragment):
    async def scenario(server, channel, engine):
        await wait_serving(server)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await pb_grpc.InferenceStub(channel).Sentiment(pb.TextBatch(texts=texts), timeout=2)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert fragment in caught.value.details()
        assert not [batch for batch in engine.batches if batch[0] is Task.SENTIMENT]
        unknown = pb_grpc.InferenceStub(channel).GetModelInfo(pb.ModelInfoRequest(task="poetry"), timeout=2)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unknown
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    run_with_server(scenario, max_text_chars=100, max_texts_per_request=4)


def test_model_failure_is_internal_and_the_service_keeps_serving():
    async def scenario(server, channel, engine):
        await wait_serving(server)
        stub = pb_grpc.InferenceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Title(pb.TextBatch(texts=["boom"]), timeout=2)
        assert caught.value.code() == grpc.StatusCode.INTERNAL
        assert "exploded" not in caught.value.details()  # no internals leak to callers
        reply = await stub.Title(pb.TextBatch(texts=["fine"]), timeout=2)
        assert reply.results[0].text == "Fine"

    run_with_server(scenario)


def test_metrics_count_requests_by_task_and_code():
    async def scenario(server, channel, engine):
        await wait_serving(server)
        stub = pb_grpc.InferenceStub(channel)
        for _ in range(3):
            await stub.Tags(pb.TextBatch(texts=["a", "b"]), timeout=2)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.Tags(pb.TextBatch(texts=[""]), timeout=2)
        url = f"http://127.0.0.1:{server.metrics_port}/metrics"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=2).read().decode())
        assert 'inference_requests_total{code="OK",task="tags"} 3.0' in body
        assert 'inference_requests_total{code="INVALID_ARGUMENT",task="tags"} 1.0' in body
        assert 'inference_texts_total{task="tags"} 7.0' in body
        assert 'inference_queue_depth{task="tags"} 0.0' in body
        assert "inference_batch_size_bucket" in body and "inference_compute_seconds_bucket" in body
        assert "inference_queue_seconds_bucket" in body
        assert 'service_memory_bytes{kind="uss"}' in body
        assert "inference_ready 1.0" in body

    run_with_server(scenario)


def test_stop_turns_health_not_serving_and_refuses_calls():
    async def scenario(server, channel, engine):
        await wait_serving(server)
        await server.stop()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await pb_grpc.InferenceStub(channel).Title(pb.TextBatch(texts=["late"]), timeout=2)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

    run_with_server(scenario)


def test_cancelled_call_is_withdrawn_and_never_computed():
    async def scenario(server, channel, engine):
        await wait_serving(server)
        stub = pb_grpc.InferenceStub(channel)
        engine.release.clear()
        engine.computing.clear()
        first = stub.Title(pb.TextBatch(texts=["first"]), timeout=5)
        first_task = asyncio.ensure_future(first)
        assert await asyncio.to_thread(engine.computing.wait, WAIT_S)
        doomed = stub.Title(pb.TextBatch(texts=["doomed"]), timeout=5)
        doomed_task = asyncio.ensure_future(doomed)
        await asyncio.sleep(0.1)
        assert server.batchers[Task.TITLE].depth == 1
        doomed.cancel()
        for _ in range(50):  # the server learns of the cancellation asynchronously
            if server.batchers[Task.TITLE].depth == 0:
                break
            await asyncio.sleep(0.02)
        assert server.batchers[Task.TITLE].depth == 0
        engine.release.set()
        assert (await first_task).results[0].text == "First"
        with pytest.raises(asyncio.CancelledError):
            await doomed_task
        assert [texts for _, texts in engine.batches] == [["first"]]

    run_with_server(scenario, HoldableEngine())


def test_failed_model_load_exits_non_zero():
    class BrokenEngine(FakeEngine):
        def load(self) -> None:
            raise OSError("weights not found")

    assert asyncio.run(asyncio.wait_for(serve(settings(), engine=BrokenEngine()), WAIT_S)) == 1


def test_a_call_that_would_miss_its_deadline_is_refused_at_admission():
    engine = HoldableEngine()

    async def scenario(server, channel, engine):
        await wait_serving(server)
        stub = pb_grpc.InferenceStub(channel)
        batcher = server.batchers[Task.TITLE]
        batcher._batch_seconds = 2.0  # as measured: one title batch takes 2 s
        engine.release.clear()
        running = asyncio.ensure_future(stub.Title(pb.TextBatch(texts=["first"]), timeout=10))
        await asyncio.to_thread(engine.computing.wait, WAIT_S)
        queued = asyncio.ensure_future(stub.Title(pb.TextBatch(texts=["second"]), timeout=10))
        while batcher.depth < 1:
            await asyncio.sleep(0.01)
        # One batch queued (2 s) plus its own (2 s) is past a 3 s deadline: refused now, not timed out later.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Title(pb.TextBatch(texts=["third"]), timeout=3)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert dict(caught.value.trailing_metadata())["retry-after-s"] == "2"
        engine.release.set()
        await running
        await queued
        assert ["third"] not in [texts for _, texts in engine.batches]

    run_with_server(scenario, engine)


def test_the_service_loads_no_http_layer():
    """It answers AI failures in gRPC codes: the APIs' error shape and HTTP mapping of AI errors stay out of it."""
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(inference_service.__file__).parents[1])!r})\n"
        "import inference_service.server, inference_service.servicer\n"
        "print('HTTP', sorted(m for m in ('blogcore.errors', 'blogcore.ai_errors_http') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "HTTP []" in result.stdout


class PriorityRecordingEngine(FakeEngine):
    """Notes the nice value of the thread each batch runs in."""

    def __init__(self) -> None:
        super().__init__()
        self.nice: list[int] = []

    def run_batch(self, task: Task, texts: list[str]) -> list:
        self.nice.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return super().run_batch(task, texts)


@pytest.mark.parametrize("guard, nice, yields", [("on", 4, True), ("off", 4, True), ("on", 0, False)])
def test_batches_run_at_lower_cpu_priority_whatever_the_guard(guard, nice, yields):
    engine = PriorityRecordingEngine()
    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    async def scenario(server, channel, engine):
        await wait_serving(server)
        await pb_grpc.InferenceStub(channel).Sentiment(pb.TextBatch(texts=["fine"]), timeout=2)

    run_with_server(scenario, engine, ai_guard=guard, ai_nice=nice)
    assert engine.nice == [min(19, ours + 4) if yields else ours]
