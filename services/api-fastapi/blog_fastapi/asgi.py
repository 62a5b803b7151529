"""ASGI entry point for gunicorn's uvicorn worker: blog_fastapi.asgi:app, behind the shared HTTP rules."""

from blog_fastapi import create_app
from blogcore.http_rules import AsgiRules

app = AsgiRules(create_app())
