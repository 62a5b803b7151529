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


def from_validation_errors(errors: Iterable[Mapping[str, Any]]) -> ApiError:
    """Turn pydantic's (or FastAPI's) error list into one ApiError naming the first bad field."""
    errors = list(errors)
    if not errors:
        return ValidationFailed("request body is invalid")
    first = errors[0]
    if first.get("type") == "json_invalid":
        return MalformedJSON("request body is not valid JSON")
    # FastAPI prefixes the location with where it came from ("body", "query", "path"); drop it so all frameworks agree.
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(loc) or None
    if first.get("type") == "model_attributes_type" or (field is None and first.get("type") == "dict_type"):
        return ValidationFailed("request body must be a JSON object")
    message = first.get("msg", "invalid value")
    return ValidationFailed(f"{field}: {message}" if field else message, field=field)


def not_found(resource: str, ident: object) -> NotFound:
    return NotFound(f"{resource} {ident} does not exist")
