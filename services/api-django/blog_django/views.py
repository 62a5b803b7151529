"""Class-based views of the contract and the JSON error views; everything shared lives in blogcore."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from blog_django.posts.store import DjangoPostStore
from blogcore import contract, errors, handlers, metrics, post_routes
from blogcore.ai import Task
from blogcore.ai.admission import wsgi_client_gone
from blogcore.ai_routes import AIRoutes


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse(body, status=status, headers=headers, safe=False, json_dumps_params={"ensure_ascii": False})


def error_response(exc: handlers.AnsweredError) -> JsonResponse:
    status, body, headers = handlers.error_response(exc)
    return json_response(body, status, headers)


def _ai() -> AIRoutes:
    return apps.get_app_config("posts").open_ai()


def _json(request: HttpRequest, model: type) -> Any:
    return contract.parse_json_request(model, request.body, request.META.get("CONTENT_TYPE"))


STORE = DjangoPostStore()


@method_decorator(csrf_exempt, name="dispatch")
class ApiView(View):
    """A view that answers a wrong method in the contract's error shape."""

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        exc = handlers.http_error(405)
        exc.headers["Allow"] = ", ".join(m.upper() for m in self._allowed_methods())
        raise exc


class HealthView(ApiView):
    def get(self, request: HttpRequest) -> JsonResponse:
        """Liveness: the process answers."""
        return json_response(handlers.health_body())


class ReadyView(ApiView):
    def get(self, request: HttpRequest) -> JsonResponse:
        """Readiness: the AI backend can answer now."""
        status, body = _ai().readiness()
        return json_response(body, status)


class MetricsView(ApiView):
    def get(self, request: HttpRequest) -> HttpResponse:
        """Prometheus exposition of the whole service."""
        payload, content_type = metrics.render()
        return HttpResponse(payload, content_type=content_type)


class PostsView(ApiView):
    def get(self, request: HttpRequest) -> JsonResponse:
        """A page of posts, newest first."""
        query = contract.parse_query(contract.PageQuery, request.GET.dict())
        return json_response(post_routes.list_posts(STORE, query))

    def post(self, request: HttpRequest) -> JsonResponse:
        """Store a post, enriched by all four AI tasks when asked (nothing is stored if they fail)."""
        data = _json(request, contract.PostCreate)
        body, headers = post_routes.create_post(STORE, _ai(), data, wsgi_client_gone(request.META))
        return json_response(body, 201, headers)


class PostView(ApiView):
    def get(self, request: HttpRequest, post_id: int) -> JsonResponse:
        """One post."""
        return json_response(post_routes.get_post(STORE, post_id))

    def put(self, request: HttpRequest, post_id: int) -> JsonResponse:
        """Replace a post's title, body and tags; re-enrich when asked (nothing changes if that fails)."""
        data = _json(request, contract.PostUpdate)
        return json_response(post_routes.update_post(STORE, _ai(), post_id, data, wsgi_client_gone(request.META)))

    def delete(self, request: HttpRequest, post_id: int) -> HttpResponse:
        """Delete a post."""
        post_routes.delete_post(STORE, post_id)
        return HttpResponse(status=204)


class AITaskView(ApiView):
    task: Task = Task.SUMMARIZE

    def post(self, request: HttpRequest) -> JsonResponse:
        """Run this view's AI task on raw text or a stored post."""
        data = _json(request, contract.AIRequest)
        lookup = post_routes.body_lookup(STORE)
        return json_response(_ai().answer(self.task, data, lookup, wsgi_client_gone(request.META)))


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Requests Django itself rejects (a Host outside ALLOWED_HOSTS, for one)."""
    if isinstance(exception, DisallowedHost):
        return error_response(errors.BadRequest("the Host header is not one this service answers for", field="Host"))
    return error_response(handlers.http_error(400))


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """No route matches."""
    return error_response(handlers.http_error(404))


def server_error(request: HttpRequest) -> JsonResponse:
    """An unexpected error; the details go to the log only."""
    return error_response(handlers.unexpected_error())
