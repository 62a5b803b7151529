"""Route logic every framework would otherwise repeat: post serialisation, health and the HTTP error mapping.

The frameworks only translate requests into these calls and the returned dicts into responses; the post routes
live in blogcore.post_routes, the AI routes in blogcore.ai_routes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from blogcore import contract, errors
from blogcore.ai.backend import AIError
from blogcore.ai_errors_http import ANSWERED_ERRORS as ANSWERED_ERRORS  # re-exported for the adapters
from blogcore.ai_errors_http import as_api_error

# What the frameworks' error handlers answer in the contract's shape (ANSWERED_ERRORS, for isinstance).
AnsweredError = errors.ApiError | AIError


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


# ---- health --------------------------------------------------------------------------------------------------------


def health_body() -> dict[str, Any]:
    return {"status": "ok"}


def error_response(exc: AnsweredError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers of an ApiError or an AI failure, for the frameworks' error handlers."""
    error = as_api_error(exc)
    return error.status, error.body(), dict(error.headers)


def http_error(status: int, message: str | None = None) -> errors.ApiError:
    """Our error for a status the framework itself raised (unknown route, wrong method, too large...)."""
    mapping: dict[int, tuple[type[errors.ApiError], str]] = {
        400: (errors.BadRequest, "bad request"),
        404: (errors.NotFound, "no such route"),
        405: (errors.MethodNotAllowed, "method not allowed on this route"),
        413: (errors.PayloadTooLarge, "request body is too large"),
        414: (errors.URITooLong, "the request target is too long"),
        415: (errors.UnsupportedMediaType, "unsupported media type"),
        431: (errors.HeaderFieldsTooLarge, "a request header field is too large"),
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

