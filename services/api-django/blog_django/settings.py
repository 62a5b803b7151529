"""Django settings, read from the environment through blogcore's settings; no debug mode and no default secret."""

from __future__ import annotations

import logging
import os

from django.core.exceptions import ImproperlyConfigured

from blogcore.posts import SQLITE_BUSY_TIMEOUT_MS
from blogcore.settings import APISettings

BLOG_API_SETTINGS = APISettings()

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set; there is deliberately no default")
DEBUG = False
_hosts = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
ALLOWED_HOSTS = [host.strip() for host in _hosts.split(",") if host.strip()]

INSTALLED_APPS = ["blog_django.posts"]
# No sessions, auth or CSRF middleware: this is a stateless JSON API without cookies.
MIDDLEWARE = ["blog_django.middleware.ApiMiddleware"]
ROOT_URLCONF = "blog_django.urls"
WSGI_APPLICATION = "blog_django.wsgi.application"
APPEND_SLASH = False

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(BLOG_API_SETTINGS.database_path),
        "OPTIONS": {
            # Same as blogcore.posts: WAL and a busy timeout so concurrent workers wait instead of failing.
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False

# Request.body beyond this raises RequestDataTooBig, which the middleware answers with 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = BLOG_API_SETTINGS.max_body_bytes



def _only_unexpected(record: logging.LogRecord) -> bool:
    # 4xx and the AI's 503/504 are answers of the contract; only crashes (500, with a traceback) are logged.
    return record.exc_info is not None or getattr(record, "status_code", 500) == 500


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"only_unexpected": {"()": "django.utils.log.CallbackFilter", "callback": _only_unexpected}},
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": BLOG_API_SETTINGS.log_level.upper()},
    "loggers": {"django.request": {"level": "ERROR", "filters": ["only_unexpected"]}},
}
