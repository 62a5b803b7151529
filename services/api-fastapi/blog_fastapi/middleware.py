"""Pure-ASGI middleware (request metrics by matched route, the body size limit) and the route class decoding JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blogcore import contract, errors, handlers, metrics


class MetricsMiddleware:
    """Counts, times and tracks in-progress requests under the route template Starlette matches."""

    def __init__(self, app: ASGIApp, router: APIRouter) -> None:
        self.app = app
        self.router = router

    def _route(self, scope: Scope) -> str:
        partial = None
        for route in self.router.routes:
            match, child_scope = route.matches(scope)
            # An included router answers for its routes and names the one that matched in child_scope["route"].
            path = getattr(child_scope.get("route", route), "path", None)
            if match is Match.FULL:
                return metrics.normalise_route(path)
            if match is Match.PARTIAL and partial is None:
                partial = path
        return metrics.normalise_route(partial)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        timer = metrics.start_request(lambda: self._route(scope), scope["method"])
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            timer.finish(status)


class BodyLimitMiddleware:
    """413 for a declared Content-Length over the limit, and for streamed bodies once they pass it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        try:
            contract.check_content_length(int(declared) if declared and declared.isdigit() else None, self.limit)
        except errors.ApiError as exc:
            status, body, headers = handlers.error_response(exc)
            await JSONResponse(body, status, headers)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # FastAPI re-raises HTTPException from body reading; the app's handler shapes it.
                    raise StarletteHTTPException(413)
            return message

        await self.app(scope, limited_receive, send)


class ContractRequest(Request):
    """A request whose JSON body blogcore decodes, so FastAPI refuses exactly the bodies Flask and Django refuse."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = contract.decode_json(await self.body())
            except ValueError as exc:
                # FastAPI turns this exception, and only this one, into its json_invalid validation error.
                raise json.JSONDecodeError(str(exc), "", 0) from None
        return self._json


class ContractRoute(APIRoute):
    """An API route that hands its handler a ContractRequest."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def contract_handler(request: Request) -> Response:
            return await handler(ContractRequest(request.scope, request.receive))

        return contract_handler
