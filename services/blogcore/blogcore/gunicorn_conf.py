"""The one gunicorn configuration of all three APIs: `gunicorn -c python:blogcore.gunicorn_conf -k <worker> <app>`.

Settings come from the same environment variables as the apps (blogcore.settings), so a bad value stops the
master before any worker starts. Only the app path and the worker class differ between frameworks.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import gunicorn.util

from blogcore import logs
from blogcore.http_rules import MAX_HEADER_FIELD_BYTES, remember_gunicorn_request, write_gunicorn_error
from blogcore.settings import InferenceMode, process_settings
from blogcore.workers import WORKER_STATE_DIR_ENV, forget_worker

_settings = process_settings()

# prometheus_client picks its multiprocess value class when first imported; with --preload the app (and so
# prometheus_client) is imported before any server hook runs, so the directory must exist right here, before
# anything below imports prometheus_client (blogcore.metrics re-checks this for other start paths).
_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_created_multiproc_dir: str | None = None
if os.environ.get(_MULTIPROC_ENV):
    _multiproc_dir = Path(os.environ[_MULTIPROC_ENV])
    _multiproc_dir.mkdir(parents=True, exist_ok=True)
    # Files left by an earlier run would be summed into this one's counters.
    for stale in _multiproc_dir.glob("*.db"):
        stale.unlink()
else:
    _created_multiproc_dir = tempfile.mkdtemp(prefix=f"blog-metrics-{_settings.port}-")
    os.environ[_MULTIPROC_ENV] = _created_multiproc_dir

from blogcore.memory import SERVICE_ROOT_PID_ENV  # noqa: E402  (imports prometheus_client: after the directory)

os.environ[SERVICE_ROOT_PID_ENV] = str(os.getpid())
# Workers post their readiness here, so that any worker's /ready can answer for the whole service.
_worker_state_dir = tempfile.mkdtemp(prefix=f"blog-workers-{_settings.port}-")
os.environ[WORKER_STATE_DIR_ENV] = _worker_state_dir

bind = f"{_settings.host}:{_settings.port}"
workers = _settings.web_workers
threads = _settings.web_threads  # used by gthread; uvicorn workers run one event loop
preload_app = _settings.preload_models
# Generation on a busy CPU can take many seconds; the worker must outlive the longest AI deadline.
timeout = int(max(120, _settings.inference_timeout_s * 2 + 30))
graceful_timeout = 30
# Longer than a client honouring Retry-After stays idle: a server closing an idle connection just as the client
# reuses it fails a POST with no answer at all (the client may not resend it), which 5 s did under AI overload.
keepalive = 65
# Request targets and header fields are limited once, by blogcore.http_rules (414 and 431 in the contract's JSON),
# so gunicorn's own limits sit above them: 0 is "no line limit" to gunicorn, which still stops a line at 1 MiB.
limit_request_line = 0
limit_request_field_size = 8 * MAX_HEADER_FIELD_BYTES
# What gunicorn still refuses itself (Content-Length with chunked, broken chunks, ...) is answered in the contract's
# JSON error shape too: its one writer of error pages is replaced, in the master, before any worker forks.
gunicorn.util.write_error = write_gunicorn_error
# One line per request on stdout; uvicorn workers hand their access logger to gunicorn's, so FastAPI logs too.
accesslog = "-" if _settings.access_log else None
errorlog = "-"
loglevel = _settings.log_level.lower()
logs.configure(_settings.log_level)
proc_name = f"blog-api-{_settings.port}"
# gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl), so three APIs would fight
# over it (and a read-only container cannot create it); nothing here uses gunicornc.
control_socket_disable = True


def on_starting(server: Any) -> None:
    os.environ[SERVICE_ROOT_PID_ENV] = str(os.getpid())


def pre_request(worker: Any, req: Any) -> None:
    remember_gunicorn_request(req)


def post_fork(server: Any, worker: Any) -> None:
    if _settings.inference_mode is InferenceMode.INPROCESS:
        # Imported only here: off and remote workers must never load torch.
        from blogcore.ai.engine import configure_torch

        configure_torch(_settings)
    # With --preload the backends were opened in the master; their threads did not survive the fork.
    from blogcore.ai_routes import start_after_fork

    start_after_fork()


def post_worker_init(worker: Any) -> None:
    # The app is imported now (with --preload, before the fork); models loaded later are frozen when they are warm.
    from blogcore.heap import freeze_what_is_loaded

    freeze_what_is_loaded("the app")


def worker_exit(server: Any, worker: Any) -> None:
    from blogcore.ai_routes import close_all

    close_all()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
    forget_worker(worker.pid)


def on_exit(server: Any) -> None:
    shutil.rmtree(_worker_state_dir, ignore_errors=True)
    if _created_multiproc_dir:
        shutil.rmtree(_created_multiproc_dir, ignore_errors=True)
