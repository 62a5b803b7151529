"""One middleware: request metrics by resolved route, the body size limit, and ApiError or AIError -> JSON."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from blog_django.views import error_response
from blogcore import contract, errors, handlers, metrics


def _route(request: HttpRequest) -> str:
    try:
        return metrics.normalise_route(resolve(request.path_info).route)
    except Resolver404:
        return metrics.UNMATCHED


def _content_length(request: HttpRequest) -> int | None:
    declared = request.META.get("CONTENT_LENGTH")
    return int(declared) if declared and declared.isdigit() else None


class ApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timer = metrics.start_request(lambda: _route(request), request.method or "GET")
        response: HttpResponse | None = None
        try:
            try:
                contract.check_content_length(_content_length(request), settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
            except errors.ApiError as exc:
                response = error_response(exc)
                return response
            response = self.get_response(request)
            return response
        finally:
            timer.finish(response.status_code if response is not None else 500)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, handlers.ANSWERED_ERRORS):
            return error_response(exception)
        if isinstance(exception, RequestDataTooBig):
            return error_response(handlers.http_error(413))
        return None
