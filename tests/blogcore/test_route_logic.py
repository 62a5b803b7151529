"""blogcore.handlers with a scripted backend: bodies match openapi.yaml, failures store nothing, metrics observed."""

from __future__ import annotations

import asyncio

import pytest

from api.openapi_check import check
from blogcore import contract, errors, handlers
from blogcore.ai.backend import (
    AIBackend,
    AIOverloaded,
    ModelInfo,
    OffBackend,
    Readiness,
    Result,
    Sentiment,
    Summary,
    Tags,
    Task,
    Title,
)

RESULTS: dict[Task, Result] = {
    Task.SUMMARIZE: Summary("short", truncated=True),
    Task.SENTIMENT: Sentiment(4, 0.75),
    Task.TITLE: Title("A title"),
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

    def run(self, task: Task, texts: list[str]) -> list[Result]:
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
    body = handlers.ai_route(backend, task, contract.AIRequest(text="hi"), lambda _: None)
    check(body, SCHEMAS[task])
    assert body["meta"]["synthetic_weights"] is (source == "synthetic")
    assert ("notice" in body["meta"]) is (source == "synthetic")
    assert body["meta"]["input_truncated"] is (task is Task.SUMMARIZE)


def test_post_id_reads_the_stored_body() -> None:
    backend = ScriptedBackend()
    handlers.ai_route(backend, Task.TITLE, contract.AIRequest(post_id=7), {7: "stored body"}.get)
    assert backend.calls == [(Task.TITLE, ["stored body"])]
    with pytest.raises(errors.NotFound):
        handlers.ai_route(backend, Task.TITLE, contract.AIRequest(post_id=8), {7: "stored body"}.get)


def test_async_route_matches_sync_route() -> None:
    backend = ScriptedBackend()
    sync_body = handlers.ai_route(backend, Task.TAGS, contract.AIRequest(post_id=1), {1: "x"}.get)
    async_body = asyncio.run(handlers.aai_route(backend, Task.TAGS, contract.AIRequest(post_id=1), {1: "x"}.get))
    assert sync_body == async_body


def test_enrichment_has_every_task() -> None:
    ai = handlers.enrich(ScriptedBackend(), "text")
    check(ai, "PostAI")
    assert ai["sentiment"] == {"stars": 4, "score": 0.75}
    assert asyncio.run(handlers.aenrich(ScriptedBackend(), "text")) == ai


@pytest.mark.parametrize("failing", list(Task))
def test_enrichment_fails_whole(failing: Task) -> None:
    with pytest.raises(AIOverloaded) as caught:
        handlers.enrich(ScriptedBackend(fail_on=failing), "text")
    assert caught.value.headers == {"Retry-After": "2"}
    with pytest.raises(AIOverloaded):
        asyncio.run(handlers.aenrich(ScriptedBackend(fail_on=failing), "text"))


def test_off_backend_is_ready_and_disabled() -> None:
    status, body = handlers.readiness(OffBackend())
    detail = {"inference_mode": "off", "models": {}}
    assert status == 200 and body == {"status": "ready", "inference_mode": "off", "detail": detail}
    check(body, "Readiness")
    with pytest.raises(errors.ApiError) as caught:
        handlers.ai_route(OffBackend(), Task.SUMMARIZE, contract.AIRequest(text="x"), lambda _: None)
    assert (caught.value.status, caught.value.code) == (503, "ai_disabled")


def test_readiness_lists_models_in_one_shape() -> None:
    status, body = handlers.readiness(ScriptedBackend())
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


def test_scores_are_rounded_alike_on_every_path() -> None:
    """A remote score arrives as float32 (0.2551000118255615); in-process rounds to 0.2551: bodies show the same."""
    import numpy as np

    noisy = float(np.float32(0.2551))
    assert noisy != 0.2551
    backend = ScriptedBackend()
    sentiment = handlers.task_body(backend, Task.SENTIMENT, Sentiment(2, noisy))
    tags = handlers.task_body(backend, Task.TAGS, Tags((("python", noisy),)))
    enriched = handlers._enrichment(backend, {**RESULTS, Task.SENTIMENT: Sentiment(2, noisy),
                                              Task.TAGS: Tags((("python", noisy),))})
    assert sentiment["score"] == tags["tags"][0]["score"] == 0.2551
    assert enriched["sentiment"]["score"] == enriched["predicted_tags"][0]["score"] == 0.2551
