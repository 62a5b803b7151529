"""The posts app; it also holds this process's AI, opened by the WSGI entry point (not by migrate)."""

from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings

from blogcore import contract, metrics
from blogcore.ai_routes import AIRoutes, open_ai

FRAMEWORK = "django"


class PostsConfig(AppConfig):
    name = "blog_django.posts"
    label = "posts"
    default_auto_field = "django.db.models.BigAutoField"
    ai: AIRoutes | None = None

    def ready(self) -> None:
        contract.configure(settings.BLOG_API_SETTINGS)

    def open_ai(self) -> AIRoutes:
        if self.ai is None:
            metrics.configure(FRAMEWORK, settings.BLOG_API_SETTINGS)
            self.ai = open_ai(settings.BLOG_API_SETTINGS)
        return self.ai
