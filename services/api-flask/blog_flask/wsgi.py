"""WSGI entry point for gunicorn: blog_flask.wsgi:app, behind the shared HTTP rules."""

from blog_flask import create_app
from blogcore.http_rules import WsgiRules
from blogcore.settings import process_settings

app = WsgiRules(create_app(), process_settings().max_body_bytes)
