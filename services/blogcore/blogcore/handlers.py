"""Route logic every framework would otherwise repeat: AI bodies, enrichment, readiness and post serialisation.

The frameworks only translate requests into these calls and the returned dicts into responses. Each AI
helper comes twice, blocking (Flask, Django) and async (FastAPI), over the same body builders.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from blogcore import contract, errors, metrics
from blogcore.ai import AIBackend, Task, create_backend
from blogcore.ai.backend import ModelInfo, Result, Sentiment, Summary, Tags, Title, rounded_score
from blogcore.settings import APISettings

SYNTHETIC_NOTICE = (
    "synthetic weights: this model has the real architecture but random weights, so its output is meaningless"
)

PostT = TypeVar("PostT")

# Looks a stored post's body up by id; None when there is no such post.
BodyLookup = Callable[[int], "str | None"]


class PostLike(Protocol):
    id: int
    title: str
    body: str
    tags: list[str]
    ai: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


# ---- posts -------------------------------------------------------------------------------------------------------


def iso_utc(moment: datetime) -> str:
    # SQLite hands datetimes back without a zone; they were stored in UTC.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def post_body(post: PostLike) -> dict[str, Any]:
    """The contract's Post object for a stored post of either ORM."""
    return {
        "id": post.id,
        "title": post.title,
        "body": post.body,
        "tags": list(post.tags or []),
        "ai": post.ai,
        "created_at": iso_utc(post.created_at),
        "updated_at": iso_utc(post.updated_at),
    }


def page_body(items: list[PostLike], total: int, query: contract.PageQuery) -> dict[str, Any]:
    return {"items": [post_body(p) for p in items], "page": query.page, "page_size": query.page_size, "total": total}


def post_location(post_id: int) -> str:
    return f"/posts/{post_id}"


def found(post: PostT | None, post_id: int) -> PostT:
    """The looked-up post, or the contract's 404 for its id."""
    if post is None:
        raise errors.not_found("post", post_id)
    return post


# ---- AI tasks ----------------------------------------------------------------------------------------------------


def task_meta(backend: AIBackend, task: Task, result: Result | None) -> dict[str, Any]:
    """What answered, so synthetic or truncated output is never mistaken for a real model's full reading."""
    info: ModelInfo | None = backend.model_info(task)
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
        case Title():
            body["title"] = result.text
        case Tags():
            body["tags"] = [{"tag": tag, "score": rounded_score(score)} for tag, score in result.tags]
        case _:
            raise errors.ApiError(f"backend returned {type(result).__name__} for task {task}")
    body["meta"] = task_meta(backend, task, result)
    return body


@contextmanager
def _timed_task(backend: AIBackend, task: Task) -> Iterator[None]:
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    except errors.ApiError as exc:
        outcome = exc.code
        raise
    finally:
        metrics.observe_ai_task(str(task), backend.mode, outcome, time.perf_counter() - started)


def _single(results: list[Result], task: Task) -> Result:
    if len(results) != 1:
        raise errors.ApiError(f"backend returned {len(results)} results for one {task} input")
    return results[0]


def run_task(backend: AIBackend, task: Task, text: str) -> Result:
    with _timed_task(backend, task):
        return _single(backend.run(task, [text]), task)


async def arun_task(backend: AIBackend, task: Task, text: str) -> Result:
    with _timed_task(backend, task):
        return _single(await backend.arun(task, [text]), task)


def resolve_text(request: contract.AIRequest, lookup: BodyLookup) -> str:
    if request.text is not None:
        return request.text
    assert request.post_id is not None  # the contract model guarantees exactly one
    body = lookup(request.post_id)
    if body is None:
        raise errors.not_found("post", request.post_id)
    return body


def ai_route(backend: AIBackend, task: Task, request: contract.AIRequest, lookup: BodyLookup) -> dict[str, Any]:
    """POST /ai/<task>, blocking: resolve the text (raw or a stored post's body), run the task, build the body."""
    text = resolve_text(request, lookup)
    return task_body(backend, task, run_task(backend, task, text))


async def aai_route(
    backend: AIBackend, task: Task, request: contract.AIRequest, lookup: BodyLookup
) -> dict[str, Any]:
    """POST /ai/<task> for asyncio servers; the blocking lookup runs in a thread, never on the event loop."""
    if request.post_id is not None:
        text = await asyncio.to_thread(resolve_text, request, lookup)
    else:
        text = resolve_text(request, lookup)
    return task_body(backend, task, await arun_task(backend, task, text))


# ---- enrichment --------------------------------------------------------------------------------------------------


def _enrichment(backend: AIBackend, results: dict[Task, Result]) -> dict[str, Any]:
    summary, sentiment, title, tags = (results[t] for t in (Task.SUMMARIZE, Task.SENTIMENT, Task.TITLE, Task.TAGS))
    assert isinstance(summary, Summary) and isinstance(sentiment, Sentiment)
    assert isinstance(title, Title) and isinstance(tags, Tags)
    return {
        "summary": summary.text,
        "sentiment": {"stars": int(sentiment.stars), "score": rounded_score(sentiment.score)},
        "suggested_title": title.text,
        "predicted_tags": [{"tag": tag, "score": rounded_score(score)} for tag, score in tags.tags],
        "meta": {str(task): task_meta(backend, task, result) for task, result in results.items()},
    }


def enrich(backend: AIBackend, text: str) -> dict[str, Any]:
    """All four tasks on a post body, blocking; raises before anything is stored if any task fails."""
    return _enrichment(backend, {task: run_task(backend, task, text) for task in Task})


async def aenrich(backend: AIBackend, text: str) -> dict[str, Any]:
    """All four tasks concurrently, so a batching backend can serve them together."""
    results = await asyncio.gather(*(arun_task(backend, task, text) for task in Task))
    return _enrichment(backend, dict(zip(Task, results, strict=True)))


# ---- health --------------------------------------------------------------------------------------------------------


def health_body() -> dict[str, Any]:
    return {"status": "ok"}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def readiness(backend: AIBackend) -> tuple[int, dict[str, Any]]:
    """GET /ready: 200 when the backend can answer AI requests now (or AI is off), 503 otherwise."""
    state = backend.readiness()
    detail = dict(state.detail)
    # One shape for every backend, built from model_info; a backend's own "models" detail is replaced by it.
    models = {}
    for task in Task:
        info = backend.model_info(task)
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
        "status": "ready" if state.ready else "not_ready",
        "inference_mode": backend.mode,
        "detail": _jsonable(detail),
    }
    return (200 if state.ready else 503), body


# ---- backend lifecycle ---------------------------------------------------------------------------------------------

# The backends this process opened; gunicorn's post_fork restarts them when the app was preloaded in the master
# (threads do not survive fork) and worker_exit closes them.
_open_backends: list[AIBackend] = []


def open_backend(settings: APISettings) -> AIBackend:
    backend = create_backend(settings)
    backend.start()
    _open_backends.append(backend)
    return backend


def start_backends_after_fork() -> None:
    for backend in _open_backends:
        backend.start()


def close_backends() -> None:
    while _open_backends:
        _open_backends.pop().close()


def error_response(exc: errors.ApiError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers of an ApiError, for the frameworks' error handlers."""
    return exc.status, exc.body(), dict(exc.headers)


def http_error(status: int, message: str | None = None) -> errors.ApiError:
    """Our error for a status the framework itself raised (unknown route, wrong method, too large...)."""
    mapping: dict[int, tuple[type[errors.ApiError], str]] = {
        400: (errors.BadRequest, "bad request"),
        404: (errors.NotFound, "no such route"),
        405: (errors.MethodNotAllowed, "method not allowed on this route"),
        413: (errors.PayloadTooLarge, "request body is too large"),
        415: (errors.UnsupportedMediaType, "unsupported media type"),
    }
    cls, default = mapping.get(status, (errors.ApiError, "internal error"))
    if cls is errors.PayloadTooLarge:
        return contract.payload_too_large(message or default)
    exc = cls(message or default)
    if cls is errors.ApiError:
        exc.status = status if 400 <= status < 600 else 500
        exc.code = "internal_error" if exc.status >= 500 else "http_error"
    return exc


def unexpected_error() -> errors.ApiError:
    return errors.ApiError("internal server error")

