"""blogcore.post_routes on the real SQLAlchemy stores: the post use cases every framework runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from blogcore import contract, errors, post_routes
from blogcore.ai_routes import AIRoutes
from blogcore.posts import PostRepository, SessionPerCall, create_session_factory, create_storage_engine
from blogcore.ai.backend import AIError, Task

from blogcore.test_route_logic import ScriptedBackend  # noqa: E402  (the same scripted backend)


@pytest.fixture
def store(tmp_path: Path) -> SessionPerCall:
    return SessionPerCall(create_session_factory(create_storage_engine(tmp_path / "blog.sqlite3")))


def _create(store, ai: AIRoutes, **fields) -> dict:
    data = contract.PostCreate(title="t", body="b", **fields)
    body, headers = post_routes.create_post(store, ai, data)
    assert headers["Location"] == f"/posts/{body['id']}"
    return body


def test_update_keeps_the_stored_ai_results_unless_asked_to_enrich(store: SessionPerCall) -> None:
    ai = AIRoutes(ScriptedBackend())
    created = _create(store, ai, enrich=True)
    assert created["ai"] is not None
    kept = post_routes.update_post(store, ai, created["id"], contract.PostUpdate(title="n", body="other"))
    assert kept["ai"] == created["ai"] and kept["body"] == "other"
    dropped = post_routes.update_post(store, AIRoutes(ScriptedBackend()), created["id"],
                                      contract.PostUpdate(title="n", body="x", enrich=True))
    assert dropped["ai"] is not None and post_routes.get_post(store, created["id"]) == dropped


def test_a_failed_enrichment_stores_and_changes_nothing(store: SessionPerCall) -> None:
    failing = AIRoutes(ScriptedBackend(fail_on=Task.TAGS))
    with pytest.raises(AIError):
        _create(store, failing, enrich=True)
    assert post_routes.list_posts(store, contract.PageQuery())["total"] == 0
    created = _create(store, AIRoutes(ScriptedBackend()))
    with pytest.raises(AIError):
        post_routes.update_post(store, failing, created["id"], contract.PostUpdate(title="n", body="x", enrich=True))
    assert post_routes.get_post(store, created["id"]) == created


def test_async_use_cases_answer_like_the_blocking_ones(store: SessionPerCall) -> None:
    ai = AIRoutes(ScriptedBackend())
    created, _ = asyncio.run(post_routes.create_post_async(
        store, ai, contract.PostCreate(title="t", body="b", enrich=True), asyncio.to_thread))
    assert set(created["ai"]) == set(_create(store, ai, enrich=True)["ai"])
    update = contract.PostUpdate(title="n", body="other")
    updated = asyncio.run(post_routes.update_post_async(store, ai, created["id"], update, asyncio.to_thread))
    assert updated["ai"] == created["ai"] and updated == post_routes.get_post(store, created["id"])


@pytest.mark.parametrize("post_id", [0, 10**30, 12345])
def test_missing_posts_are_the_contracts_404(store: SessionPerCall, post_id: int) -> None:
    ai = AIRoutes(ScriptedBackend())
    for call in (lambda: post_routes.get_post(store, post_id), lambda: post_routes.delete_post(store, post_id),
                 lambda: post_routes.update_post(store, ai, post_id, contract.PostUpdate(title="t", body="b"))):
        with pytest.raises(errors.NotFound):
            call()
    assert ai.backend.calls == [] and post_routes.body_lookup(store)(post_id) is None


def test_a_post_deleted_between_read_and_write_is_a_404(store: SessionPerCall) -> None:
    post = post_routes.existing_post(store, _create(store, AIRoutes(ScriptedBackend()))["id"])
    post_routes.delete_post(store, post.id)
    with pytest.raises(errors.NotFound):
        store.update(post, "t", "b", [], None)


def test_both_sqlalchemy_stores_read_the_same_post(store: SessionPerCall) -> None:
    created = _create(store, AIRoutes(ScriptedBackend()))
    with store.sessions() as session:
        assert post_routes.get_post(PostRepository(session), created["id"]) == created
