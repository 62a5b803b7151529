"""The one error shape every API answers with: {"error": {"status", "code", "message", "field"}}."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class ApiError(Exception):
    """An error with its HTTP status, a stable machine-readable code and, where known, the offending field."""

    status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.field = field
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.code, self.message, self.field)


def error_body(status: int, code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message, "field": field}}


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class MalformedJSON(ApiError):
    status, code = 400, "malformed_json"


class ValidationFailed(ApiError):
    status, code = 422, "validation_error"


class NotFound(ApiError):
    status, code = 404, "not_found"


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class URITooLong(ApiError):
    status, code = 414, "uri_too_long"


class HeaderFieldsTooLarge(ApiError):
    status, code = 431, "header_fields_too_large"


EMPTY_BODY_MESSAGE = "request body is empty; a JSON object is required"
INVALID_JSON_MESSAGE = "request body is not valid JSON"
NOT_AN_OBJECT_MESSAGE = "request body must be a JSON object"


# Where FastAPI says an error came from, as the first element of its "loc".
REQUEST_PARTS = ("body", "query", "path", "header", "cookie")

# pydantic words a type error by what it validated: JSON text (Flask, Django) or the Python objects FastAPI
# decoded first. The contract speaks JSON, so every framework uses the JSON wording.
JSON_TYPE_MESSAGES = {"list_type": "Input should be a valid array"}


def from_validation_errors(errors: Iterable[Mapping[str, Any]], *, located: bool = False) -> ApiError:
    """Turn pydantic's (or FastAPI's) error list into one ApiError naming the first bad field.

    located: the locations start with the request part (FastAPI's style); it is dropped so that all frameworks
    name the same field (a field called "body" must stay "body").
    """
    errors = list(errors)
    if not errors:
        return ValidationFailed("request body is invalid")
    first = errors[0]
    if first.get("type") == "json_invalid":
        return MalformedJSON(INVALID_JSON_MESSAGE)
    loc = [str(part) for part in first.get("loc", ())]
    if located and loc and loc[0] in REQUEST_PARTS:
        loc = loc[1:]
    field = ".".join(loc) or None
    if field is None and first.get("type") == "missing":
        # FastAPI reports an empty body as the whole body missing; it is malformed JSON like anywhere else.
        return MalformedJSON(EMPTY_BODY_MESSAGE)
    if field is None and first.get("type") in ("model_type", "model_attributes_type", "dict_type"):
        return ValidationFailed(NOT_AN_OBJECT_MESSAGE)
    message = JSON_TYPE_MESSAGES.get(first.get("type", ""), first.get("msg", "invalid value"))
    return ValidationFailed(f"{field}: {message}" if field else message, field=field)


def not_found(resource: str, ident: object) -> NotFound:
    return NotFound(f"{resource} {ident} does not exist")
