"""ASGI entry point for gunicorn's uvicorn worker: blog_fastapi.asgi:app."""

from blog_fastapi import create_app

app = create_app()
