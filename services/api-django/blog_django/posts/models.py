"""The stored post: the same fields as blogcore.posts.Post, in Django's ORM."""

from django.db import models
from django.utils import timezone

from blogcore import contract


class Post(models.Model):
    title = models.CharField(max_length=contract.TITLE_MAX_CHARS)
    body = models.TextField()
    tags = models.JSONField(default=list)
    ai = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
