"""Post storage for the Flask and FastAPI services: the SQLAlchemy model, engine set-up and two PostStores.

(Django keeps the same fields in its own ORM model and store; blogcore.post_routes drives all of them.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, Integer, String, Text, create_engine, event, func, inspect, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from blogcore import errors

# SQLite integers are signed 64-bit: larger ids cannot exist and must read as "not found", not overflow.
from blogcore.contract import MAX_POST_ID

SQLITE_BUSY_TIMEOUT_MS = 10_000


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    ai: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer, and the busy timeout makes concurrent workers wait for the
    # write lock instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_storage_engine(database_path: Path) -> Engine:
    """An engine for the SQLite file at database_path, its tables created if missing."""
    database_path = Path(database_path)
    database_path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{database_path}",
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_pre_ping=False,
    )
    event.listen(engine, "connect", _configure_sqlite)
    try:
        Base.metadata.create_all(engine)
    except OperationalError as exc:
        # The workers of one service start together on a fresh file: another one may have created the table
        # between this one's existence check and its CREATE TABLE.
        if "already exists" not in str(exc):
            raise
    return engine


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that is always closed; changes are committed only by the repository's writes."""
    session = factory()
    try:
        yield session
    finally:
        session.close()


class PostRepository:
    """Reads and writes posts in one session; every write commits or rolls back before returning."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def page(self, offset: int, limit: int) -> tuple[list[Post], int]:
        total = self.session.scalar(select(func.count()).select_from(Post)) or 0
        rows = self.session.scalars(
            select(Post).order_by(Post.created_at.desc(), Post.id.desc()).offset(offset).limit(limit)
        ).all()
        return list(rows), total

    def get(self, post_id: int) -> Post | None:
        if not 1 <= post_id <= MAX_POST_ID:
            return None
        return self.session.get(Post, post_id)

    def body_of(self, post_id: int) -> str | None:
        post = self.get(post_id)
        return post.body if post else None

    def create(self, title: str, body: str, tags: list[str], ai: dict[str, Any] | None) -> Post:
        now = utcnow()
        post = Post(title=title, body=body, tags=tags, ai=ai, created_at=now, updated_at=now)
        with self._writing():
            self.session.add(post)
        return post

    def update(self, post: Post, title: str, body: str, tags: list[str], ai: dict[str, Any] | None) -> Post:
        post = self._attached(post)
        with self._writing(post.id):
            post.title, post.body, post.tags, post.ai = title, body, tags, ai
            post.updated_at = utcnow()
        return post

    def delete(self, post: Post) -> None:
        with self._writing(post.id):
            self.session.delete(self._attached(post))

    def _attached(self, post: Post) -> Post:
        # A post read by an earlier session (SessionPerCall) joins this one without reading its row again.
        return self.session.merge(post, load=False) if inspect(post).detached else post

    @contextmanager
    def _writing(self, post_id: int | None = None) -> Iterator[None]:
        try:
            yield
            self.session.commit()
        except StaleDataError as exc:
            # The row went between this request's read and its write: the answer a read after the delete gets.
            self.session.rollback()
            raise errors.not_found("post", post_id) from exc
        except BaseException:
            self.session.rollback()
            raise


class SessionPerCall:
    """A PostStore whose every call has its own short session, for async routes that await AI work between a
    read and a write: no pooled connection is held while the models run."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def _call(self, method: str, *args: Any) -> Any:
        with session_scope(self.sessions) as session:
            return getattr(PostRepository(session), method)(*args)

    def page(self, offset: int, limit: int) -> tuple[list[Post], int]:
        return self._call("page", offset, limit)

    def get(self, post_id: int) -> Post | None:
        return self._call("get", post_id)

    def body_of(self, post_id: int) -> str | None:
        return self._call("body_of", post_id)

    def create(self, title: str, body: str, tags: list[str], ai: dict[str, Any] | None) -> Post:
        return self._call("create", title, body, tags, ai)

    def update(self, post: Post, title: str, body: str, tags: list[str], ai: dict[str, Any] | None) -> Post:
        return self._call("update", post, title, body, tags, ai)

    def delete(self, post: Post) -> None:
        self._call("delete", post)


def prepare_database(database_path: Path) -> None:
    """Create the tables and switch the file to WAL once, before any worker starts (start.sh runs this)."""
    create_storage_engine(database_path).dispose()


if __name__ == "__main__":
    from blogcore.settings import process_settings

    prepare_database(process_settings().database_path)
