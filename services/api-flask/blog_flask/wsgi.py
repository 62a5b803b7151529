"""WSGI entry point for gunicorn: blog_flask.wsgi:app."""

from blog_flask import create_app

app = create_app()
