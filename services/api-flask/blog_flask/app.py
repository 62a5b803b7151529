"""Flask app factory, routes and error handlers; everything shared lives in blogcore."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from blogcore import contract, errors, handlers, metrics, post_routes
from blogcore.ai import Task
from blogcore.ai.admission import wsgi_client_gone
from blogcore.ai_routes import AIRoutes, open_ai
from blogcore.posts import PostRepository, create_session_factory, create_storage_engine
from blogcore.settings import APISettings, process_settings

FRAMEWORK = "flask"
api = Blueprint("api", __name__)


class PostIdConverter(BaseConverter):
    """A post id in a path: the contract's digits only, so an absurdly long id is an unknown route, never a 500."""

    regex = contract.POST_ID_PATH_REGEX

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(value)


def _ai() -> AIRoutes:
    return current_app.extensions["blog_ai"]


def _repo() -> PostRepository:
    if "db_session" not in g:
        g.db_session = current_app.extensions["blog_sessions"]()
    return PostRepository(g.db_session)


def _json(model: type) -> Any:
    return contract.parse_json_request(model, request.get_data(cache=True), request.content_type)


def _json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _query_params() -> dict[str, str]:
    # The last of repeated parameters wins, as in Starlette and Django.
    return {key: values[-1] for key, values in request.args.lists()}


@api.get("/health")
def health() -> Response:
    """Liveness: the process answers."""
    return _json_response(handlers.health_body())


@api.get("/ready")
def ready() -> Response:
    """Readiness: the AI backend can answer now."""
    status, body = _ai().readiness()
    return _json_response(body, status)


@api.get("/metrics")
def metrics_endpoint() -> Response:
    """Prometheus exposition of the whole service."""
    payload, content_type = metrics.render()
    return Response(payload, content_type=content_type)


@api.get("/posts")
def list_posts() -> Response:
    """A page of posts, newest first."""
    query = contract.parse_query(contract.PageQuery, _query_params())
    return _json_response(post_routes.list_posts(_repo(), query))


@api.post("/posts")
def create_post() -> Response:
    """Store a post, enriched by all four AI tasks when asked (nothing is stored if they fail)."""
    data = _json(contract.PostCreate)
    body, headers = post_routes.create_post(_repo(), _ai(), data, wsgi_client_gone(request.environ))
    return _json_response(body, 201, headers)


@api.get("/posts/<post_id:post_id>")
def get_post(post_id: int) -> Response:
    """One post."""
    return _json_response(post_routes.get_post(_repo(), post_id))


@api.put("/posts/<post_id:post_id>")
def update_post(post_id: int) -> Response:
    """Replace a post's title, body and tags; re-enrich when asked (nothing changes if that fails)."""
    data = _json(contract.PostUpdate)
    return _json_response(post_routes.update_post(_repo(), _ai(), post_id, data, wsgi_client_gone(request.environ)))


@api.delete("/posts/<post_id:post_id>")
def delete_post(post_id: int) -> Response:
    """Delete a post."""
    post_routes.delete_post(_repo(), post_id)
    return Response(status=204)


def _ai_view(task: Task) -> Callable[[], Response]:
    def view() -> Response:
        data = _json(contract.AIRequest)
        lookup = post_routes.body_lookup(_repo())
        return _json_response(_ai().answer(task, data, lookup, wsgi_client_gone(request.environ)))

    view.__name__ = f"ai_{task}"
    view.__doc__ = f"Run the {task} task on raw text or a stored post."
    return view


for _task in Task:
    api.add_url_rule(f"/ai/{_task}", view_func=_ai_view(_task), methods=["POST"])


def _route() -> str:
    rule = request.url_rule.rule if request.url_rule else None
    return metrics.normalise_route(rule) if rule else metrics.route_for_path(request.path)


def _start_metrics() -> None:
    g.request_timer = metrics.start_request(_route, request.method)
    # Checked before Flask reads anything, so the message is the same as the other frameworks'.
    contract.check_content_length(request.content_length, current_app.config["MAX_CONTENT_LENGTH"])


def _finish_metrics(response: Response) -> Response:
    timer = g.pop("request_timer", None)
    if timer is not None:
        timer.finish(response.status_code)
    return response


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()


def _api_error(exc: handlers.AnsweredError) -> Response:
    status, body, headers = handlers.error_response(exc)
    return _json_response(body, status, headers)


def _http_error(exc: HTTPException) -> Response:
    error = handlers.http_error(exc.code or 500)
    response = _api_error(error)
    if exc.code == 405 and exc.response is None:
        allow = getattr(exc, "valid_methods", None)
        if allow:
            response.headers["Allow"] = ", ".join(sorted(allow))
    return response


def _unexpected(exc: Exception) -> Response:
    current_app.logger.exception("unhandled error", exc_info=exc)
    return _api_error(handlers.unexpected_error())


def create_app(settings: APISettings | None = None) -> Flask:
    """A Flask app with its own storage engine and AI backend."""
    settings = settings or process_settings()
    metrics.configure(FRAMEWORK, settings)
    contract.configure(settings)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    engine = create_storage_engine(settings.database_path)
    app.extensions["blog_sessions"] = create_session_factory(engine)
    app.extensions["blog_ai"] = open_ai(settings)
    app.url_map.converters["post_id"] = PostIdConverter
    app.register_blueprint(api)
    app.before_request(_start_metrics)
    app.after_request(_finish_metrics)
    app.teardown_appcontext(_close_session)
    for answered in handlers.ANSWERED_ERRORS:
        app.register_error_handler(answered, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app
