"""WSGI entry point for gunicorn: blog_django.wsgi:application."""

import os

from django.apps import apps
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blog_django.settings")
application = get_wsgi_application()
apps.get_app_config("posts").open_ai()
