"""The AI side of one API process: its backend behind the AI guard, the AI route bodies, enrichment, readiness.

Frameworks call these with what they parsed and turn the returned dicts into responses. Each entry point comes
blocking (Flask, Django) and async (FastAPI), over the same body builders and the same bulkhead.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from blogcore import contract, errors, metrics
from blogcore.ai import AIBackend, Task, create_backend
from blogcore.ai.admission import Bulkhead, NoBulkhead, unless_disconnected
from blogcore.ai.backend import (
    ClientGoneCheck,
    ModelInfo,
    Result,
    Sentiment,
    SuggestedTitle,
    Summary,
    Tags,
    never_gone,
    rounded_score,
)
from blogcore.ai_errors_http import ANSWERED_ERRORS, as_api_error
from blogcore.settings import AIGuard, APISettings, InferenceMode
from blogcore.workers import ReadinessPoster, WorkerBoard, state_dir

SYNTHETIC_NOTICE = (
    "synthetic weights: this model has the real architecture but random weights, so its output is meaningless"
)

# Looks a stored post's body up by id; None when there is no such post.
BodyLookup = Callable[[int], "str | None"]
# An ASGI receive callable: after the body, it returns only when the client disconnects.
Receive = Callable[[], Awaitable[dict[str, Any]]]


def task_meta(backend: AIBackend, task: Task, result: Result | None) -> dict[str, Any]:
    """What answered, so synthetic or truncated output is never mistaken for a real model's full reading."""
    # A remote result says which model computed it; in-process backends are asked instead (a local lookup).
    info: ModelInfo | None = result.model if result is not None and result.model else backend.model_info(task)
    synthetic = bool(info and info.synthetic)
    meta: dict[str, Any] = {
        "mode": backend.mode,
        "model": info.model_id if info else None,
        "source": info.source if info else None,
        "synthetic_weights": synthetic,
        "input_truncated": bool(result and result.truncated),
        "max_input_tokens": info.max_input_tokens if info else None,
    }
    if synthetic:
        meta["notice"] = SYNTHETIC_NOTICE
    return meta


def task_body(backend: AIBackend, task: Task, result: Result) -> dict[str, Any]:
    """One AI route's response body."""
    body: dict[str, Any] = {"task": str(task)}
    match result:
        case Summary():
            body["summary"] = result.text
        case Sentiment():
            body["stars"] = int(result.stars)
            body["score"] = rounded_score(result.score)
        case SuggestedTitle():
            body["title"] = result.text
        case Tags():
            body["tags"] = [{"tag": tag, "score": rounded_score(score)} for tag, score in result.tags]
        case _:
            raise errors.ApiError(f"backend returned {type(result).__name__} for task {task}")
    body["meta"] = task_meta(backend, task, result)
    return body


def _enrichment(backend: AIBackend, results: dict[Task, Result]) -> dict[str, Any]:
    summary, sentiment, title, tags = (results[t] for t in (Task.SUMMARIZE, Task.SENTIMENT, Task.TITLE, Task.TAGS))
    assert isinstance(summary, Summary) and isinstance(sentiment, Sentiment)
    assert isinstance(title, SuggestedTitle) and isinstance(tags, Tags)
    return {
        "summary": summary.text,
        "sentiment": {"stars": int(sentiment.stars), "score": rounded_score(sentiment.score)},
        "suggested_title": title.text,
        "predicted_tags": [{"tag": tag, "score": rounded_score(score)} for tag, score in tags.tags],
        "meta": {str(task): task_meta(backend, task, result) for task, result in results.items()},
    }


def _single(results: list[Result], task: Task) -> Result:
    if len(results) != 1:
        raise errors.ApiError(f"backend returned {len(results)} results for one {task} input")
    return results[0]


def resolve_text(request: contract.AIRequest, lookup: BodyLookup) -> str:
    if request.text is not None:
        return request.text
    assert request.post_id is not None  # the contract model guarantees exactly one
    body = lookup(request.post_id)
    if body is None:
        raise errors.not_found("post", request.post_id)
    return body


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class AIRoutes:
    """One process's AI: the backend, the bulkhead its AI requests share, and its entry on the readiness board."""

    def __init__(self, backend: AIBackend, bulkhead: Bulkhead | NoBulkhead | None = None,
                 board: WorkerBoard | None = None) -> None:
        self.backend = backend
        self.bulkhead = bulkhead or NoBulkhead()
        self.board = board
        self._poster = ReadinessPoster(board, backend.readiness) if board else None

    @classmethod
    def for_settings(cls, settings: APISettings) -> AIRoutes:
        guarded = settings.ai_guard == AIGuard.ON and settings.inference_mode != InferenceMode.OFF
        directory = state_dir()
        return cls(
            create_backend(settings),
            Bulkhead(settings.ai_bulkhead_size) if guarded else NoBulkhead(),
            WorkerBoard(directory, settings.web_workers) if directory else None,
        )

    # -- lifecycle: per worker process, after fork ----------------------------------------------------------

    def start(self) -> None:
        self.backend.start()
        if self._poster:
            self._poster.start()

    def close(self) -> None:
        if self._poster:
            self._poster.stop()
        self.backend.close()

    # -- routes ----------------------------------------------------------------------------------------------

    def answer(
        self, task: Task, request: contract.AIRequest, lookup: BodyLookup, client_gone: ClientGoneCheck = never_gone
    ) -> dict[str, Any]:
        """POST /ai/<task>, blocking: resolve the text (raw or a stored post's body), run the task, build the body."""
        with self._timed(task), self.bulkhead.place():
            text = resolve_text(request, lookup)
            result = _single(self.backend.run(task, [text], client_gone), task)
        return task_body(self.backend, task, result)

    async def answer_async(
        self, task: Task, request: contract.AIRequest, lookup: BodyLookup, receive: Receive | None = None
    ) -> dict[str, Any]:
        """POST /ai/<task> for asyncio servers: the lookup runs in a thread, a disconnect cancels the work."""
        with self._timed(task), self.bulkhead.place():
            if request.post_id is not None:
                text = await asyncio.to_thread(resolve_text, request, lookup)
            else:
                text = resolve_text(request, lookup)
            call = self.backend.arun(task, [text])
            result = _single(await (unless_disconnected(call, receive) if receive else call), task)
        return task_body(self.backend, task, result)

    # Enrichment runs its four tasks one after another in every framework. An enrich holds one place of the AI
    # bulkhead, and the bulkhead's size is how many model calls the backend is offered at once: four concurrent
    # calls behind one place would offer four times what the guard admits (and only to async servers). One
    # after another, an enriched post costs the same in Flask, Django and FastAPI, and a client that leaves
    # stops the work between tasks in all three.

    def enrich(self, text: str, client_gone: ClientGoneCheck = never_gone) -> dict[str, Any]:
        """All four tasks on a post body as one AI request; raises before anything is stored if any fails."""
        with self.bulkhead.place():
            results = {}
            for task in Task:
                with self._timed(task):
                    results[task] = _single(self.backend.run(task, [text], client_gone), task)
        return _enrichment(self.backend, results)

    async def enrich_async(self, text: str, receive: Receive | None = None) -> dict[str, Any]:
        """The same for asyncio servers: a disconnect cancels the task in flight and skips the rest."""

        async def in_turn() -> dict[Task, Result]:
            results = {}
            for task in Task:
                with self._timed(task):
                    results[task] = _single(await self.backend.arun(task, [text]), task)
            return results

        with self.bulkhead.place():
            results = await (unless_disconnected(in_turn(), receive) if receive else in_turn())
        return _enrichment(self.backend, results)

    @contextmanager
    def _timed(self, task: Task) -> Iterator[None]:
        started = time.perf_counter()
        outcome = "error"
        try:
            yield
            outcome = "ok"
        except ANSWERED_ERRORS as exc:
            outcome = as_api_error(exc).code
            raise
        finally:
            metrics.observe_ai_task(str(task), self.backend.mode, outcome, time.perf_counter() - started)

    # -- readiness -------------------------------------------------------------------------------------------

    def readiness(self) -> tuple[int, dict[str, Any]]:
        """GET /ready: 200 when every worker of the service can answer AI requests now (or AI is off)."""
        state = self._poster.post_now() if self._poster else self.backend.readiness()
        detail = dict(state.detail)
        ready = state.ready
        if self.board is not None:
            service = self.board.service()
            detail["workers"] = {"ready": service.ready_workers, "expected": service.expected_workers}
            ready = ready and service.ready
        # One shape for every backend, built from model_info; a backend's own "models" detail is replaced by it.
        models = {}
        for task in Task:
            info = self.backend.model_info(task)
            if info is not None:
                models[str(task)] = {
                    "model": info.model_id,
                    "source": info.source,
                    "synthetic_weights": info.synthetic,
                    "max_input_tokens": info.max_input_tokens,
                    **({"extra": info.extra} if info.extra else {}),
                }
        detail["models"] = models
        body = {
            "status": "ready" if ready else "not_ready",
            "inference_mode": self.backend.mode,
            "detail": _jsonable(detail),
        }
        return (200 if ready else 503), body


# The AI of this process; gunicorn's post_fork restarts it when the app was preloaded in the master (threads do
# not survive fork) and worker_exit closes it.
_opened: list[AIRoutes] = []


def open_ai(settings: APISettings) -> AIRoutes:
    ai = AIRoutes.for_settings(settings)
    ai.start()
    _opened.append(ai)
    return ai


def start_after_fork() -> None:
    for ai in _opened:
        ai.start()


def close_all() -> None:
    while _opened:
        _opened.pop().close()
