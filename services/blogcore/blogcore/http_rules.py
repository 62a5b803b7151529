"""HTTP rules below the routes, decided once for all three frameworks: sizes, framing, HEAD, OPTIONS and 204.

gunicorn (Flask, Django) and uvicorn (FastAPI) parse HTTP differently and answer some requests themselves, in
their own shapes. These checks run in front of every framework, so each probe gets one answer everywhere:
WsgiRules wraps the Flask and Django apps, AsgiRules the FastAPI one. gunicorn's own limits are set above the
ones here (blogcore.gunicorn_conf), so that the request reaches them.
"""

from __future__ import annotations

import io
import json
import re
import threading
from http import HTTPStatus
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from blogcore import contract, errors, handlers

# The longest request target (path and query) and the longest header field (name, ": " and value) answered;
# a longer one is 414 or 431. 8190 is gunicorn's own default for both, so nothing that passed before fails now.
MAX_TARGET_BYTES = 8190
MAX_HEADER_FIELD_BYTES = 8190

# The methods of each route in openapi.yaml (a test checks they agree); HEAD and OPTIONS come with every route.
ROUTE_METHODS: dict[str, tuple[str, ...]] = {
    "/health": ("GET",),
    "/ready": ("GET",),
    "/metrics": ("GET",),
    "/posts": ("GET", "POST"),
    "/posts/{post_id}": ("GET", "PUT", "DELETE"),
    "/ai/summarize": ("POST",),
    "/ai/sentiment": ("POST",),
    "/ai/title": ("POST",),
    "/ai/tags": ("POST",),
}
_ROUTE_PATTERNS = [
    (re.compile(template.replace("{post_id}", contract.POST_ID_PATH_REGEX) + r"\Z"), methods)
    for template, methods in ROUTE_METHODS.items()
]


def allowed_methods(path: str) -> str | None:
    """The Allow header of a route (None for a path no route serves): its methods, HEAD with GET, and OPTIONS."""
    for pattern, methods in _ROUTE_PATTERNS:
        if pattern.match(path):
            implicit = ("HEAD",) if "GET" in methods else ()
            return ", ".join((*methods, *implicit, "OPTIONS"))
    return None


def check_request_head(target_bytes: int, headers: Iterable[tuple[str, str]]) -> None:
    """Refuse what no framework may see: an overlong target or header field, or two ways to frame one body."""
    if target_bytes > MAX_TARGET_BYTES:
        raise errors.URITooLong(f"the request target is {target_bytes} bytes; the limit is {MAX_TARGET_BYTES}")
    names = set()
    for name, value in headers:
        size = len(name) + 2 + len(value)
        if size > MAX_HEADER_FIELD_BYTES:
            raise errors.HeaderFieldsTooLarge(
                f"header {name.title()} is {size} bytes; the limit is {MAX_HEADER_FIELD_BYTES}", field=name.title()
            )
        names.add(name.lower())
    if {"content-length", "transfer-encoding"} <= names:
        # RFC 9112 6.3: a message with both may be a smuggling attempt; the server may refuse it, and does, closing
        # the connection, since where this body ends (and the next request starts) is exactly what is in doubt.
        raise errors.BadRequest(
            "Content-Length and Transfer-Encoding must not both be sent", headers={"Connection": "close"}
        )


def error_parts(exc: errors.ApiError) -> tuple[bytes, list[tuple[str, str]]]:
    """The JSON body and headers of an error answered here, before any framework."""
    body = json.dumps(exc.body(), ensure_ascii=False).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *exc.headers.items()]
    return body, headers


def _closes(headers: Iterable[tuple[str, str]]) -> bool:
    return any(name.lower() == "connection" and value.lower() == "close" for name, value in headers)


def _without_body_headers(status: int, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # RFC 9110 15.3.5: a 204 has no content, so it has no type either (Flask and Django would say text/html).
    if status != 204:
        return headers
    return [(name, value) for name, value in headers if name.lower() not in ("content-type", "content-length")]


# ---- WSGI (gunicorn gthread: one request per thread) -----------------------------------------------------------

_gunicorn_request = threading.local()


def remember_gunicorn_request(request: Any) -> None:
    """gunicorn's pre_request hook: keep the request, so that an answer can close its connection."""
    _gunicorn_request.current = request


def _close_gunicorn_connection() -> None:
    # gunicorn ignores a Connection header from the app; its request's must_close is what it honours.
    request = getattr(_gunicorn_request, "current", None)
    if request is not None:
        request.must_close = True


def write_gunicorn_error(sock: Any, status: int, reason: str, message: str) -> None:
    """gunicorn's answer to a request it refuses before any app (framing it cannot trust, a line past 1 MiB), in
    the contract's JSON instead of its HTML page; gunicorn_conf installs it in place of gunicorn.util.write_error."""
    from gunicorn.util import write_nonblock

    exc = handlers.http_error(status, message)
    body, headers = error_parts(exc)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers if name.lower() != "connection")
    write_nonblock(sock, f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n{head}\r\n".encode("latin-1") + body)


StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class WsgiRules:
    """The rules of this module in front of a WSGI app (Flask, Django)."""

    def __init__(self, app: WSGIApp, body_limit: int) -> None:
        self.app = app
        self.body_limit = body_limit

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            target = environ.get("RAW_URI") or environ.get("PATH_INFO", "")
            check_request_head(len(target.encode("latin-1", "replace")), _wsgi_headers(environ))
            if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
                self._buffer_chunked_body(environ)
        except errors.ApiError as exc:
            body, headers = error_parts(exc)
            if _closes(headers):
                _close_gunicorn_connection()
            start_response(f"{exc.status} {HTTPStatus(exc.status).phrase}", headers)
            return [body]
        allow = allowed_methods(environ.get("PATH_INFO", ""))
        if environ.get("REQUEST_METHOD") == "OPTIONS" and allow:
            start_response("204 No Content", [("Allow", allow)])
            return []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if _closes(headers):
                _close_gunicorn_connection()
            return start_response(status, _without_body_headers(int(status[:3]), headers), exc_info)

        return self.app(environ, start)

    def _buffer_chunked_body(self, environ: dict[str, Any]) -> None:
        # A chunked body has no length up front: read it up to the limit, then hand it on with its length, as
        # every framework reads a body with Content-Length (Django reads none without one).
        body = environ["wsgi.input"].read(self.body_limit + 1)
        if len(body) > self.body_limit:
            raise contract.payload_too_large(f"request body is over the limit of {self.body_limit} bytes")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input_terminated"] = True
        del environ["HTTP_TRANSFER_ENCODING"]


def _wsgi_headers(environ: dict[str, Any]) -> Iterable[tuple[str, str]]:
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            yield key[5:].replace("_", "-").title(), value
        elif key in ("CONTENT_LENGTH", "CONTENT_TYPE") and value:
            yield key.replace("_", "-").title(), value


# ---- ASGI (uvicorn) --------------------------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AsgiRules:
    """The rules of this module in front of an ASGI app (FastAPI); its body limit checks streamed bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string") or b"")
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        try:
            check_request_head(target + (1 if scope.get("query_string") else 0), headers)
        except errors.ApiError as exc:
            body, answer_headers = error_parts(exc)
            await _send_whole(send, exc.status, answer_headers, body)
            return
        allow = allowed_methods(scope["path"])
        if scope["method"] == "OPTIONS" and allow:
            await _send_whole(send, 204, [("Allow", allow)], b"")
            return
        head = scope["method"] == "HEAD" and allow is not None and "GET" in allow
        if head:
            # HEAD is GET without the content (RFC 9110 9.3.2): same status and headers, the body dropped.
            scope = {**scope, "method": "GET"}

        async def send_by_rules(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 204:
                pairs = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in message.get("headers", [])]
                kept = _without_body_headers(204, pairs)
                message = {**message, "headers": [(n.encode("latin-1"), v.encode("latin-1")) for n, v in kept]}
            elif message["type"] == "http.response.body" and head:
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, send_by_rules)


async def _send_whole(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    encoded = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    await send({"type": "http.response.start", "status": status, "headers": encoded})
    await send({"type": "http.response.body", "body": body})
