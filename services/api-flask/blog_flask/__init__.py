"""The blog API on Flask: sync views in gthread workers, translating requests for blogcore."""

from blog_flask.app import create_app

__all__ = ["create_app"]
