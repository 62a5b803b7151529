"""blogcore.posts: the SQLAlchemy repository on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from blogcore.handlers import post_body
from blogcore.contract import MAX_POST_ID
from blogcore.posts import PostRepository, create_session_factory, create_storage_engine, session_scope


def test_crud_and_paging(tmp_path: Path) -> None:
    engine = create_storage_engine(tmp_path / "nested" / "blog.sqlite3")
    sessions = create_session_factory(engine)
    with session_scope(sessions) as session:
        repo = PostRepository(session)
        ids = [repo.create(f"t{i}", f"b{i}", ["x"], None).id for i in range(5)]
        items, total = repo.page(0, 2)
        assert total == 5 and [p.id for p in items] == ids[::-1][:2]
        items, _ = repo.page(4, 2)
        assert [p.id for p in items] == [ids[0]]
        post = repo.get(ids[0])
        assert post is not None and repo.body_of(ids[0]) == "b0"
        repo.update(post, "new", "body", [], {"summary": "s"})
        repo.delete(repo.get(ids[1]))
    with session_scope(sessions) as session:
        repo = PostRepository(session)
        stored = repo.get(ids[0])
        assert stored is not None and (stored.title, stored.ai) == ("new", {"summary": "s"})
        body = post_body(stored)
        assert body["created_at"].endswith("Z") and body["updated_at"] > body["created_at"]
        assert repo.get(ids[1]) is None
        assert repo.page(0, 10)[1] == 4


def test_ids_out_of_range_are_not_found(tmp_path: Path) -> None:
    sessions = create_session_factory(create_storage_engine(tmp_path / "blog.sqlite3"))
    with session_scope(sessions) as session:
        repo = PostRepository(session)
        assert repo.get(0) is None and repo.get(MAX_POST_ID + 1) is None and repo.body_of(10**30) is None


def test_sqlite_is_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_storage_engine(tmp_path / "blog.sqlite3")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
