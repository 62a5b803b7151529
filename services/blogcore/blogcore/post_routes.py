"""The post routes once for every framework: list, get, create (enriched when asked), update, delete.

Each framework hands in its storage (a PostStore: blogcore.posts for SQLAlchemy, the Django ORM's own store) and
turns the returned bodies into responses. Create and update come blocking (Flask, Django) and async (FastAPI,
whose storage calls run in a thread); both run the same steps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from blogcore import contract, errors
from blogcore.ai.backend import ClientGoneCheck, never_gone
from blogcore.ai_routes import AIRoutes, Receive
from blogcore.handlers import PostLike, page_body, post_body, post_location

PostT = TypeVar("PostT", bound=PostLike)
T = TypeVar("T")
# Runs a blocking storage call off the event loop (Starlette's run_in_threadpool, asyncio.to_thread).
InThread = Callable[..., Awaitable[Any]]


class PostStore(Protocol[PostT]):
    """What the post routes need from an ORM; every write is committed (or rolled back) before it returns."""

    def page(self, offset: int, limit: int) -> tuple[list[PostT], int]: ...

    def get(self, post_id: int) -> PostT | None: ...

    def body_of(self, post_id: int) -> str | None: ...

    def create(self, title: str, body: str, tags: list[str], ai: dict[str, Any] | None) -> PostT: ...

    def update(self, post: PostT, title: str, body: str, tags: list[str], ai: dict[str, Any] | None) -> PostT: ...

    def delete(self, post: PostT) -> None: ...


def _in_range(post_id: int) -> bool:
    # SQLite integers are signed 64-bit: larger ids cannot exist and must read as "not found", not overflow.
    return 1 <= post_id <= contract.MAX_POST_ID


def existing_post(store: PostStore[PostT], post_id: int) -> PostT:
    """The stored post, or the contract's 404 for its id."""
    post = store.get(post_id) if _in_range(post_id) else None
    if post is None:
        raise errors.not_found("post", post_id)
    return post


def body_lookup(store: PostStore[Any]) -> Callable[[int], str | None]:
    """A stored post's body by id for the AI routes' post_id requests."""
    return lambda post_id: store.body_of(post_id) if _in_range(post_id) else None


def list_posts(store: PostStore[Any], query: contract.PageQuery) -> dict[str, Any]:
    items, total = store.page(query.offset, query.page_size)
    return page_body(items, total, query)


def get_post(store: PostStore[Any], post_id: int) -> dict[str, Any]:
    return post_body(existing_post(store, post_id))


def delete_post(store: PostStore[Any], post_id: int) -> None:
    store.delete(existing_post(store, post_id))


def _store_new(store: PostStore[Any], data: contract.PostCreate, ai: dict[str, Any] | None) -> tuple[dict, dict]:
    post = store.create(data.title, data.body, data.tags, ai)
    return post_body(post), {"Location": post_location(post.id)}


def _replace(store: PostStore[PostT], post: PostT, data: contract.PostUpdate, ai: dict[str, Any] | None) -> dict:
    # Without enrich the stored AI results stay: they describe an earlier body until the client asks again.
    return post_body(store.update(post, data.title, data.body, data.tags, ai if data.enrich else post.ai))


def create_post(
    store: PostStore[Any], ai: AIRoutes, data: contract.PostCreate, client_gone: ClientGoneCheck = never_gone
) -> tuple[dict[str, Any], dict[str, str]]:
    """Body and headers of a new post; enrichment runs first, so nothing is stored when it fails."""
    return _store_new(store, data, ai.enrich(data.body, client_gone) if data.enrich else None)


async def create_post_async(
    store: PostStore[Any], ai: AIRoutes, data: contract.PostCreate, in_thread: InThread, receive: Receive | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    enrichment = await ai.enrich_async(data.body, receive) if data.enrich else None
    return await in_thread(_store_new, store, data, enrichment)


def update_post(
    store: PostStore[Any], ai: AIRoutes, post_id: int, data: contract.PostUpdate,
    client_gone: ClientGoneCheck = never_gone,
) -> dict[str, Any]:
    """The replaced post; a missing post is a 404 before any AI work, and nothing changes when enrichment fails."""
    post = existing_post(store, post_id)
    return _replace(store, post, data, ai.enrich(data.body, client_gone) if data.enrich else None)


async def update_post_async(
    store: PostStore[Any], ai: AIRoutes, post_id: int, data: contract.PostUpdate, in_thread: InThread,
    receive: Receive | None = None,
) -> dict[str, Any]:
    post = await in_thread(existing_post, store, post_id)
    enrichment = await ai.enrich_async(data.body, receive) if data.enrich else None
    return await in_thread(_replace, store, post, data, enrichment)
