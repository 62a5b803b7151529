"""FastAPI app factory, routes and exception handlers; everything shared lives in blogcore."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from blog_fastapi.middleware import BodyLimitMiddleware, ContractRoute, MetricsMiddleware
from blogcore import contract, errors, handlers, metrics, post_routes
from blogcore.ai import Task
from blogcore.ai_routes import AIRoutes, close_all, open_ai
from blogcore.posts import PostRepository, SessionPerCall, create_session_factory, create_storage_engine, session_scope
from blogcore.settings import APISettings, process_settings

FRAMEWORK = "fastapi"


class PostIdConvertor(Convertor[int]):
    """A post id in a path: the contract's digits only; Starlette's int would 500 on a 5000-digit id."""

    regex = contract.POST_ID_PATH_REGEX

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


# Registered before any route is declared: Starlette compiles a path when its route is created.
register_url_convertor("post_id", PostIdConvertor())
router = APIRouter(route_class=ContractRoute)


async def get_ai(request: Request) -> AIRoutes:
    return request.app.state.ai


def get_store_per_call(request: Request) -> SessionPerCall:
    # The async routes await AI work between their storage calls; no session is held across those awaits.
    return SessionPerCall(request.app.state.sessions)


def get_repo(request: Request) -> Iterator[PostRepository]:
    with session_scope(request.app.state.sessions) as session:
        yield PostRepository(session)


async def require_json(request: Request) -> None:
    contract.require_json(request.headers.get("content-type"))


AI = Annotated[AIRoutes, Depends(get_ai)]
Repo = Annotated[PostRepository, Depends(get_repo)]
StorePerCall = Annotated[SessionPerCall, Depends(get_store_per_call)]
JsonBody = Depends(require_json)


@router.get("/health")
async def health() -> JSONResponse:
    """Liveness: the process answers."""
    return JSONResponse(handlers.health_body())


@router.get("/ready")
def ready(ai: AI) -> JSONResponse:
    """Readiness: every worker's AI can answer now (a plain def: a remote health check blocks, so not on the loop)."""
    status, body = ai.readiness()
    return JSONResponse(body, status)


@router.get("/metrics")
def metrics_endpoint() -> Response:
    """Prometheus exposition of the whole service (reads files, so it runs in the threadpool)."""
    payload, content_type = metrics.render()
    return Response(payload, media_type=content_type)


@router.get("/posts")
def list_posts(query: Annotated[contract.PageQuery, Query()], repo: Repo) -> JSONResponse:
    """A page of posts, newest first."""
    return JSONResponse(post_routes.list_posts(repo, query))


@router.post("/posts", dependencies=[JsonBody])
async def create_post(request: Request, data: contract.PostCreate, ai: AI, store: StorePerCall) -> JSONResponse:
    """Store a post, enriched by all four AI tasks when asked (nothing is stored if they fail)."""
    body, headers = await post_routes.create_post_async(store, ai, data, run_in_threadpool, request.receive)
    return JSONResponse(body, 201, headers)


@router.get("/posts/{post_id:post_id}")
def get_post(post_id: int, repo: Repo) -> JSONResponse:
    """One post."""
    return JSONResponse(post_routes.get_post(repo, post_id))


@router.put("/posts/{post_id:post_id}", dependencies=[JsonBody])
async def update_post(
    request: Request, post_id: int, data: contract.PostUpdate, ai: AI, store: StorePerCall
) -> JSONResponse:
    """Replace a post's title, body and tags; re-enrich when asked (nothing changes if that fails)."""
    return JSONResponse(
        await post_routes.update_post_async(store, ai, post_id, data, run_in_threadpool, request.receive)
    )


@router.delete("/posts/{post_id:post_id}", status_code=204)
def delete_post(post_id: int, repo: Repo) -> Response:
    """Delete a post."""
    post_routes.delete_post(repo, post_id)
    return Response(status_code=204)


def _ai_endpoint(task: Task) -> Callable[..., Any]:
    async def endpoint(request: Request, data: contract.AIRequest, ai: AI, store: StorePerCall) -> JSONResponse:
        return JSONResponse(await ai.answer_async(task, data, post_routes.body_lookup(store), request.receive))

    endpoint.__name__ = f"ai_{task}"
    endpoint.__doc__ = f"Run the {task} task on raw text or a stored post."
    return endpoint


for _task in Task:
    router.add_api_route(f"/ai/{_task}", _ai_endpoint(_task), methods=["POST"], dependencies=[JsonBody])


def _error_response(exc: handlers.AnsweredError, extra_headers: dict[str, str] | None = None) -> JSONResponse:
    status, body, headers = handlers.error_response(exc)
    return JSONResponse(body, status, {**headers, **(extra_headers or {})})


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, handlers.ANSWERED_ERRORS)
    return _error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    error = errors.from_validation_errors(exc.errors(), located=True)
    # FastAPI calls a JSON null body "missing", as it does an empty one; only the empty one is malformed.
    if error.message == errors.EMPTY_BODY_MESSAGE and request.headers.get("content-length", "0") != "0":
        error = errors.ValidationFailed(errors.NOT_AN_OBJECT_MESSAGE)
    return _error_response(error)


def _allowed_methods(request: Request) -> str:
    # Starlette names only the first route that matched the path; each method is its own route here.
    methods = {
        method
        for route in router.routes
        if route.matches(request.scope)[0] is not Match.NONE
        for method in getattr(route, "methods", None) or ()
    }
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    allow = _allowed_methods(request) if exc.status_code == 405 else None
    return _error_response(handlers.http_error(exc.status_code), {"Allow": allow} if allow else None)


async def _unexpected(_request: Request, _exc: Exception) -> JSONResponse:
    return _error_response(handlers.unexpected_error())


def create_app(settings: APISettings | None = None) -> FastAPI:
    """A FastAPI app with its own storage engine and AI backend; no docs or OpenAPI routes are served."""
    settings = settings or process_settings()
    metrics.configure(FRAMEWORK, settings)
    contract.configure(settings)
    ai = open_ai(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        close_all()

    app = FastAPI(
        docs_url=None, redoc_url=None, openapi_url=None, redirect_slashes=False, debug=False, lifespan=lifespan
    )
    app.state.settings = settings
    app.state.ai = ai
    app.state.sessions = create_session_factory(create_storage_engine(settings.database_path))
    app.include_router(router)
    for answered in handlers.ANSWERED_ERRORS:
        app.add_exception_handler(answered, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    # Added last runs first: metrics see every response, the 413s of the body limit included.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, router=router)
    return app
