"""WSGI entry point for gunicorn: blog_django.wsgi:application, behind the shared HTTP rules."""

import os

from django.apps import apps
from django.conf import settings
from django.core.wsgi import get_wsgi_application

from blogcore.http_rules import WsgiRules

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blog_django.settings")
application = WsgiRules(get_wsgi_application(), settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
apps.get_app_config("posts").open_ai()
