"""blogcore.ai_routes with a scripted backend: bodies match openapi.yaml, failures store nothing, the bulkhead holds."""

from __future__ import annotations

import asyncio
import threading

import pytest

from api.openapi_check import check
from blogcore import contract, errors, handlers
from blogcore.ai.admission import Bulkhead
from blogcore import ai_routes
from blogcore.ai_routes import AIRoutes
from blogcore.ai_errors_http import http_error_for
from blogcore.ai.backend import (
    AIBackend,
    AIError,
    AIOverloaded,
    ModelInfo,
    OffBackend,
    Readiness,
    Result,
    Sentiment,
    SuggestedTitle,
    Summary,
    Tags,
    Task,
)

RESULTS: dict[Task, Result] = {
    Task.SUMMARIZE: Summary("short", truncated=True),
    Task.SENTIMENT: Sentiment(4, 0.75),
    Task.TITLE: SuggestedTitle("A title"),
    Task.TAGS: Tags((("python", 0.9), ("web", 0.4))),
}
SCHEMAS = {
    Task.SUMMARIZE: "SummarizeResponse",
    Task.SENTIMENT: "SentimentResponse",
    Task.TITLE: "TitleResponse",
    Task.TAGS: "TagsResponse",
}


class ScriptedBackend(AIBackend):
    mode = "remote"

    def __init__(self, fail_on: Task | None = None, source: str = "synthetic") -> None:
        self.fail_on = fail_on
        self.source = source
        self.calls: list[tuple[Task, list[str]]] = []

    def readiness(self) -> Readiness:
        return Readiness(True, {"inference_mode": self.mode, "address": "x:1"})

    def model_info(self, task: Task) -> ModelInfo | None:
        return ModelInfo(task, f"model-{task}", self.source, 512)

    def run(self, task: Task, texts: list[str], client_gone=None) -> list[Result]:
        self.calls.append((task, texts))
        if task is self.fail_on:
            raise AIOverloaded("busy", retry_after_s=2)
        return [RESULTS[task] for _ in texts]

    async def arun(self, task: Task, texts: list[str]) -> list[Result]:
        return self.run(task, texts)


@pytest.mark.parametrize("task", list(Task))
@pytest.mark.parametrize("source", ["synthetic", "hub"])
def test_task_bodies_follow_the_contract(task: Task, source: str) -> None:
    backend = ScriptedBackend(source=source)
    body = AIRoutes(backend).answer(task, contract.AIRequest(text="hi"), lambda _: None)
    check(body, SCHEMAS[task])
    assert body["meta"]["synthetic_weights"] is (source == "synthetic")
    assert ("notice" in body["meta"]) is (source == "synthetic")
    assert body["meta"]["input_truncated"] is (task is Task.SUMMARIZE)


def test_post_id_reads_the_stored_body() -> None:
    backend = ScriptedBackend()
    AIRoutes(backend).answer(Task.TITLE, contract.AIRequest(post_id=7), {7: "stored body"}.get)
    assert backend.calls == [(Task.TITLE, ["stored body"])]
    with pytest.raises(errors.NotFound):
        AIRoutes(backend).answer(Task.TITLE, contract.AIRequest(post_id=8), {7: "stored body"}.get)


def test_async_route_matches_sync_route() -> None:
    backend = ScriptedBackend()
    sync_body = AIRoutes(backend).answer(Task.TAGS, contract.AIRequest(post_id=1), {1: "x"}.get)
    async_body = asyncio.run(AIRoutes(backend).answer_async(Task.TAGS, contract.AIRequest(post_id=1), {1: "x"}.get))
    assert sync_body == async_body


def test_enrichment_has_every_task() -> None:
    ai = AIRoutes(ScriptedBackend()).enrich("text")
    check(ai, "PostAI")
    assert ai["sentiment"] == {"stars": 4, "score": 0.75}
    assert asyncio.run(AIRoutes(ScriptedBackend()).enrich_async("text")) == ai


@pytest.mark.parametrize("failing", list(Task))
def test_enrichment_fails_whole(failing: Task) -> None:
    with pytest.raises(AIOverloaded) as caught:
        AIRoutes(ScriptedBackend(fail_on=failing)).enrich("text")
    assert http_error_for(caught.value).headers == {"Retry-After": "2"}
    with pytest.raises(AIOverloaded):
        asyncio.run(AIRoutes(ScriptedBackend(fail_on=failing)).enrich_async("text"))


def test_off_backend_is_ready_and_disabled() -> None:
    status, body = AIRoutes(OffBackend()).readiness()
    detail = {"inference_mode": "off", "models": {}}
    assert status == 200 and body == {"status": "ready", "inference_mode": "off", "detail": detail}
    check(body, "Readiness")
    with pytest.raises(AIError) as caught:
        AIRoutes(OffBackend()).answer(Task.SUMMARIZE, contract.AIRequest(text="x"), lambda _: None)
    answer = http_error_for(caught.value)
    assert (answer.status, answer.code) == (503, "ai_disabled")


def test_readiness_lists_models_in_one_shape() -> None:
    status, body = AIRoutes(ScriptedBackend()).readiness()
    check(body, "Readiness")
    assert status == 200 and body["detail"]["address"] == "x:1"
    assert body["detail"]["models"]["tags"] == {
        "model": "model-tags", "source": "synthetic", "synthetic_weights": True, "max_input_tokens": 512
    }


def test_http_errors_use_the_contract_codes() -> None:
    assert handlers.http_error(404).code == "not_found"
    assert handlers.http_error(405).code == "method_not_allowed"
    assert handlers.http_error(413).headers == {"Connection": "close"}
    assert (handlers.http_error(500).status, handlers.http_error(500).code) == (500, "internal_error")
    assert (handlers.http_error(418).status, handlers.http_error(418).code) == (418, "http_error")


class GatedBackend(ScriptedBackend):
    """Holds every call until released, so a test can fill the bulkhead."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def run(self, task: Task, texts: list[str], client_gone=None) -> list[Result]:
        self.entered.release()
        assert self.release.wait(30)
        return super().run(task, texts)

    async def arun(self, task: Task, texts: list[str]) -> list[Result]:
        self.entered.release()
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        return super().run(task, texts)


def test_a_full_bulkhead_refuses_at_once_and_frees_its_places() -> None:
    backend = GatedBackend()
    routes = AIRoutes(backend, Bulkhead(2))
    request = contract.AIRequest(text="hi")
    holders = [threading.Thread(target=routes.answer, args=(Task.TITLE, request, lambda _: None)) for _ in range(2)]
    try:
        for holder in holders:
            holder.start()
        assert backend.entered.acquire(timeout=10) and backend.entered.acquire(timeout=10)
        for attempt in (lambda: routes.answer(Task.TAGS, request, lambda _: None),
                        lambda: routes.enrich("text"),
                        lambda: asyncio.run(routes.answer_async(Task.TAGS, request, lambda _: None))):
            with pytest.raises(AIOverloaded) as refused:
                attempt()
            answer = http_error_for(refused.value)
            assert answer.status == 429 and int(answer.headers["Retry-After"]) >= 1
        assert [task for task, _ in backend.calls] == []  # nothing refused reached the model
    finally:
        backend.release.set()
        for holder in holders:
            holder.join(timeout=10)
    assert routes.bulkhead.held == 0
    assert routes.answer(Task.TAGS, request, lambda _: None)["task"] == "tags"


def test_a_disconnected_asgi_client_cancels_its_ai_work() -> None:
    backend = GatedBackend()
    routes = AIRoutes(backend, Bulkhead(2))

    async def scenario() -> None:
        gone = asyncio.Event()

        async def receive() -> dict:
            await gone.wait()
            return {"type": "http.disconnect"}

        call = asyncio.ensure_future(
            routes.answer_async(Task.TITLE, contract.AIRequest(text="hi"), lambda _: None, receive)
        )
        await asyncio.sleep(0.05)
        gone.set()
        with pytest.raises(AIError) as caught:
            await call
        assert http_error_for(caught.value).status == 499

    asyncio.run(scenario())
    assert backend.calls == [] and routes.bulkhead.held == 0


def test_scores_are_rounded_alike_on_every_path() -> None:
    """A remote score arrives as float32 (0.2551000118255615); in-process rounds to 0.2551: bodies show the same."""
    import numpy as np

    noisy = float(np.float32(0.2551))
    assert noisy != 0.2551
    backend = ScriptedBackend()
    sentiment = ai_routes.task_body(backend, Task.SENTIMENT, Sentiment(2, noisy))
    tags = ai_routes.task_body(backend, Task.TAGS, Tags((("python", noisy),)))
    enriched = ai_routes._enrichment(backend, {**RESULTS, Task.SENTIMENT: Sentiment(2, noisy),
                                              Task.TAGS: Tags((("python", noisy),))})
    assert sentiment["score"] == tags["tags"][0]["score"] == 0.2551
    assert enriched["sentiment"]["score"] == enriched["predicted_tags"][0]["score"] == 0.2551


def test_the_meta_names_the_model_the_result_carries() -> None:
    carried = ModelInfo(Task.TITLE, "carried/title", "hub", 64)
    body = ai_routes.task_body(ScriptedBackend(), Task.TITLE, SuggestedTitle("A title", model=carried))
    assert (body["meta"]["model"], body["meta"]["synthetic_weights"]) == ("carried/title", False)
