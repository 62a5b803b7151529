"""The posts of blogcore.post_routes in Django's ORM (the PostStore that blogcore.posts is for SQLAlchemy)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from blog_django.posts.models import Post


class DjangoPostStore:
    """Reads and writes posts through the ORM; each write is its own autocommitted statement."""

    def page(self, offset: int, limit: int) -> tuple[list[Post], int]:
        posts = Post.objects.all()
        return list(posts[offset : offset + limit]), posts.count()

    def get(self, post_id: int) -> Post | None:
        return Post.objects.filter(pk=post_id).first()

    def body_of(self, post_id: int) -> str | None:
        return Post.objects.filter(pk=post_id).values_list("body", flat=True).first()

    def create(self, title: str, body: str, tags: list[str], ai: dict[str, Any] | None) -> Post:
        now = timezone.now()
        return Post.objects.create(title=title, body=body, tags=tags, ai=ai, created_at=now, updated_at=now)

    def update(self, post: Post, title: str, body: str, tags: list[str], ai: dict[str, Any] | None) -> Post:
        post.title, post.body, post.tags, post.ai = title, body, tags, ai
        post.updated_at = timezone.now()
        post.save()
        return post

    def delete(self, post: Post) -> None:
        post.delete()
