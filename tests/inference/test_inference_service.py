"""The real service (python -m inference_service, real ModelEngine, tiny synthetic models) in a subprocess."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from blogcore.ai.backend import Task
from blogcore.grpc_gen import inference_pb2 as pb
from blogcore.grpc_gen import inference_pb2_grpc as pb_grpc
from inference_server import start_inference

SERVICE = "blog.inference.v1.Inference"
METHODS = {Task.SUMMARIZE: "Summarize", Task.SENTIMENT: "Sentiment", Task.TITLE: "Title", Task.TAGS: "Tags"}
TEXTS = [
    "A weekend of tuning PostgreSQL indexes for a Flask blog.",
    "Cooking pasta for twelve people on a tiny stove.",
    "Why our Kubernetes deploys kept failing, and the one-line fix.",
    "Short.",
    "Travel notes from Lisbon: trams, hills and custard tarts, with a long digression about the weather "
    "and the best time of day to visit the castle when the crowds are thin.",
]
# Long enough that a batch of them keeps the model thread busy for a while even with tiny models.
LONG_TEXT = " ".join(f"paragraph {i} about databases, deployment and Python web frameworks." for i in range(150))


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    # summarize batches of up to 32 texts: one call of LONG_TEXTs occupies the model thread for about a second
    running = start_inference(
        tmp_path_factory.mktemp("inference") / "service.log",
        {"BATCH_MAX_DELAY_MS": "50", "BATCH_PER_TASK": json.dumps({"summarize": {"max_size": 32}})},
    )
    try:
        yield running
    finally:
        running.stop()


def call(address: str, task: Task, texts: list[str], timeout: float = 30.0):
    with grpc.insecure_channel(address) as channel:
        return getattr(pb_grpc.InferenceStub(channel), METHODS[task])(pb.TextBatch(texts=texts), timeout=timeout)


def as_plain(task: Task, result) -> tuple:
    if task is Task.TAGS:
        return tuple((t.tag, round(t.probability, 4)) for t in result.tags), result.truncated
    if task is Task.SENTIMENT:
        return result.stars, round(result.score, 4), result.truncated
    return result.text, result.truncated


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    body = urllib.request.urlopen(url, timeout=5).read().decode()
    samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_health_serving_and_reflection_lists_the_service(service):
    assert service.health() == "SERVING"
    assert service.health(SERVICE) == "SERVING"
    with grpc.insecure_channel(service.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        replies = list(stub.ServerReflectionInfo(iter([request]), timeout=5))
    names = {s.name for s in replies[0].list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health"} <= names


@pytest.mark.parametrize("task", list(Task))
def test_batched_results_equal_unbatched(service, task):
    alone = [as_plain(task, call(service.address, task, [text]).results[0]) for text in TEXTS]
    together = [as_plain(task, r) for r in call(service.address, task, TEXTS).results]
    assert together == alone

    async def concurrently():
        async with grpc.aio.insecure_channel(service.address) as channel:
            method = getattr(pb_grpc.InferenceStub(channel), METHODS[task])
            replies = await asyncio.gather(*(method(pb.TextBatch(texts=[text]), timeout=30) for text in TEXTS))
        return [as_plain(task, reply.results[0]) for reply in replies]

    assert asyncio.run(concurrently()) == alone


def test_concurrent_calls_are_batched_together(service):
    before = scrape(service.metrics_url)
    key = ("inference_batch_size_count", (("task", "sentiment"),))

    async def burst():
        async with grpc.aio.insecure_channel(service.address) as channel:
            stub = pb_grpc.InferenceStub(channel)
            await asyncio.gather(*(stub.Sentiment(pb.TextBatch(texts=[f"post {i}"]), timeout=30) for i in range(8)))

    asyncio.run(burst())
    after = scrape(service.metrics_url)
    batches = after[key] - before.get(key, 0)
    assert 1 <= batches < 8  # 8 calls inside one 50 ms window share batches
    assert after[("inference_requests_total", (("code", "OK"), ("task", "sentiment")))] >= 8


def test_responses_name_the_model(service):
    reply = call(service.address, Task.TITLE, ["hello"])
    assert reply.model.source == "synthetic" and reply.model.model_id
    assert json.loads(reply.model.extra_json)["profile"] == "tiny"


def test_expired_call_gets_deadline_exceeded_and_is_never_computed(service):
    key = ("inference_batch_size_count", (("task", "tags"),))

    async def scenario():
        async with grpc.aio.insecure_channel(service.address) as channel:
            stub = pb_grpc.InferenceStub(channel)
            heavy = asyncio.ensure_future(stub.Summarize(pb.TextBatch(texts=[LONG_TEXT] * 32), timeout=60))
            await asyncio.sleep(0.2)  # the heavy batch now holds the one model thread
            before = scrape(service.metrics_url).get(key, 0)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.Tags(pb.TextBatch(texts=["late"]), timeout=0.2)
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert not heavy.done(), "the heavy batch finished too soon to prove anything"
            await heavy
            return before

    before = asyncio.run(scenario())
    time.sleep(0.1)
    assert scrape(service.metrics_url).get(key, 0) == before
    assert len(call(service.address, Task.TAGS, ["on time"]).results) == 1


@pytest.fixture()
def small_service(tmp_path):
    running = start_inference(
        tmp_path / "service.log",
        {
            "BATCH_PER_TASK": json.dumps(
                {"summarize": {"max_size": 64}, "sentiment": {"queue_size": 2, "max_size": 1}}
            ),
            "BATCH_MAX_DELAY_MS": "0",
            "SHUTDOWN_GRACE_S": "20",
        },
    )
    try:
        yield running
    finally:
        running.stop()


def test_full_queue_is_resource_exhausted_then_graceful_stop_drains(small_service):
    address = small_service.address

    async def scenario():
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.InferenceStub(channel)
            heavy = asyncio.ensure_future(stub.Summarize(pb.TextBatch(texts=[LONG_TEXT] * 64), timeout=60))
            await asyncio.sleep(0.3)
            # Two calls fill the queue and the rest are refused, except one that the collector may already have
            # taken as a batch (it waits for the model thread) when the calls arrive.
            calls = [asyncio.ensure_future(stub.Sentiment(pb.TextBatch(texts=[f"s{i}"]), timeout=60)) for i in range(6)]
            await asyncio.sleep(0.3)
            refused = [c for c in calls if c.done()]
            assert len(refused) in (3, 4), [c.done() for c in calls]
            for c in refused:
                error = c.exception()
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                retry_after = dict(tuple(error.trailing_metadata()))["retry-after-s"]
                assert int(retry_after) >= 1
            in_flight = [heavy, *(c for c in calls if not c.done())]

            # SIGTERM with calls in flight: they finish, new ones are refused, the process exits cleanly
            small_service.child.popen.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            assert not heavy.done(), "the heavy call finished before the stop could be tested"
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.Tags(pb.TextBatch(texts=["after stop"]), timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            replies = await asyncio.gather(*in_flight)
            assert len(replies[0].results) == 64 and all(len(r.results) == 1 for r in replies[1:])

    asyncio.run(scenario())
    assert small_service.child.wait(30) == 0
    assert "stopped" in small_service.log()


def test_metrics_report_memory_and_batches(service):
    call(service.address, Task.TITLE, ["metrics please"])
    samples = scrape(service.metrics_url)
    assert samples[("service_memory_bytes", (("kind", "uss"),))] > 50e6
    assert samples[("inference_ready", ())] == 1
    assert samples[("inference_batch_size_count", (("task", "title"),))] >= 1
    assert ("inference_compute_seconds_count", (("task", "title"),)) in samples
    assert ("inference_queue_seconds_count", (("task", "title"),)) in samples
    assert samples[("inference_queue_depth", (("task", "title"),))] == 0
