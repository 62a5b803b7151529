"""The posts app; it also holds this process's AI backend, opened by the WSGI entry point (not by migrate)."""

from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings

from blogcore import contract, handlers, metrics
from blogcore.ai import AIBackend

FRAMEWORK = "django"


class PostsConfig(AppConfig):
    name = "blog_django.posts"
    label = "posts"
    default_auto_field = "django.db.models.BigAutoField"
    backend: AIBackend | None = None

    def ready(self) -> None:
        contract.configure(settings.BLOG_API_SETTINGS)

    def open_backend(self) -> AIBackend:
        if self.backend is None:
            metrics.configure(FRAMEWORK, settings.BLOG_API_SETTINGS)
            self.backend = handlers.open_backend(settings.BLOG_API_SETTINGS)
        return self.backend
