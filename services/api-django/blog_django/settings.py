"""Django settings, read from the environment through blogcore's settings; no debug mode and no default secret."""

from __future__ import annotations

import logging
import os

from django.core.exceptions import ImproperlyConfigured

from blogcore.posts import SQLITE_BUSY_TIMEOUT_MS
from blogcore.settings import process_settings

BLOG_API_SETTINGS = process_settings()

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set; there is deliberately no default")
DEBUG = False
_hosts = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
ALLOWED_HOSTS = [host.strip() for host in _hosts.split(",") if host.strip()]

INSTALLED_APPS = ["blog_django.posts"]
# Django's stock protections, as `startproject` sets them, minus sessions and auth (a stateless API without cookies).
# CommonMiddleware is what calls request.get_host(), so ALLOWED_HOSTS is enforced; the views are csrf_exempt (no
# cookies, so nothing to forge) while the middleware still guards any view added without thinking about it.
# ApiMiddleware comes first so that its metrics and JSON errors cover the answers of all the others.
MIDDLEWARE = [
    "blog_django.middleware.ApiMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# A CSRF cookie is never set (no view asks for a token), but if one ever were it would be HTTPS-only.
CSRF_COOKIE_SECURE = True
# Left at their defaults on purpose, and the only warnings of `manage.py check --deploy` (README, "Django and
# security"): SECURE_SSL_REDIRECT and SECURE_HSTS_SECONDS, because this service speaks plain HTTP on loopback or a
# private network and TLS, if any, ends at a proxy in front of it.
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


# The root logger's handler and level are blogcore's (blogcore.logs, set up by gunicorn_conf), as in the other APIs.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"only_unexpected": {"()": "django.utils.log.CallbackFilter", "callback": _only_unexpected}},
    "loggers": {"django.request": {"level": "ERROR", "filters": ["only_unexpected"]}},
}
