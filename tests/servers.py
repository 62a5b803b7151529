"""Start a real API server (its start.sh under gunicorn) on a free loopback port, and stop it; likewise the
buffering front before it (services/front/start.sh). The process mechanics are bench/processes.py's, the benchmark's.

    server = start_api("flask", {"INFERENCE_MODE": "off"}, tmp_path)
    try: httpx.get(server.url("/health"))
    finally: server.stop()
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench import catalog
from bench.processes import Child, free_port, http_ok

REPO_ROOT = Path(__file__).resolve().parents[1]

# Every framework with a manifest (bench/catalog.py), the tests' own fixture ones when BENCH_SERVICE_PATH names them.
FRAMEWORKS = catalog.frameworks()
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


def service_dir(framework: str) -> Path:
    return catalog.service(framework).directory


@dataclass
class HttpService:
    """A started service answering HTTP on base_url: the API or its front."""

    base_url: str
    child: Child

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self) -> str:
        return self.child.log()

    def alive(self) -> bool:
        return self.child.running()

    def stop(self) -> None:
        """SIGTERM the process group (gunicorn and its workers, or the front and nginx), then SIGKILL what lingers."""
        self.child.stop(STOP_TIMEOUT_S)


@dataclass(kw_only=True)
class ApiServer(HttpService):
    framework: str
    workdir: Path
    env: dict[str, str] = field(repr=False)
    # The workers that first served; tests compare against them to prove no worker died.
    initial_worker_pids: set[int] = field(default_factory=set)

    def worker_pids(self) -> set[int]:
        """The pids of gunicorn's workers now (children of the master)."""
        try:
            return {child.pid for child in psutil.Process(self.child.pid).children(recursive=False)}
        except psutil.NoSuchProcess:
            return set()


def start_api(
    framework: str,
    env: Mapping[str, str | None] | None,
    workdir: Path,
    *,
    workers: int = 1,
    threads: int = 4,
    ready_path: str = "/health",
    timeout_s: float = START_TIMEOUT_S,
) -> ApiServer:
    """Start one framework's server with env on top of this process's environment (None unsets a variable); wait
    until all its workers run."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    full_env = {
        **os.environ,
        # start.sh runs `gunicorn` and `python`: make them this interpreter's
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_WORKERS": str(workers),
        "WEB_THREADS": str(threads),
        "DATABASE_PATH": str(workdir / "blog.sqlite3"),
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
        "DJANGO_SECRET_KEY": "test-only-secret-not-for-deployment",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    # None in env removes a variable: an empty one is not the same as none (prometheus_client tests presence).
    full_env = {key: value for key, value in full_env.items() if value is not None}
    child = Child(f"{framework} server", ["bash", str(catalog.service(framework).start_script)], full_env,
                  workdir / "server.log")
    server = ApiServer(f"http://127.0.0.1:{port}", child, framework=framework, workdir=workdir, env=full_env)

    def all_workers_serve() -> bool:
        # One worker answering is not enough: tests count on every worker having booted.
        return http_ok(server.url(ready_path)) and len(server.worker_pids()) == workers

    child.wait_ready(all_workers_serve, timeout_s, interval_s=0.2)
    server.initial_worker_pids = server.worker_pids()
    return server


@contextlib.contextmanager
def running_api(framework: str, env: Mapping[str, str | None] | None, workdir: Path, **options: object) -> Iterator[ApiServer]:
    """start_api for a with-block (or a yield fixture): the server is stopped however the block ends."""
    server = start_api(framework, env, workdir, **options)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


FRONT_START = REPO_ROOT / "services" / "front" / "start.sh"


@dataclass(kw_only=True)
class FrontServer(HttpService):
    """The buffering nginx front (services/front/start.sh) of one API."""

    port: int


def _listens(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1.0):
        return True
    return False


def start_front(api_addr: str, workdir: Path, env: Mapping[str, str] | None = None) -> FrontServer:
    """Start a front on a free loopback port before api_addr (host:port); wait until nginx listens."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    full_env = {**os.environ, "FRONT_PORT": str(port), "API_ADDR": api_addr, **(env or {})}
    child = Child("the front", [str(FRONT_START)], full_env, workdir / "front.log")
    child.wait_ready(lambda: _listens(port), START_TIMEOUT_S, interval_s=0.1)
    return FrontServer(f"http://127.0.0.1:{port}", child, port=port)


@contextlib.contextmanager
def running_front(api_addr: str, workdir: Path, env: Mapping[str, str] | None = None) -> Iterator[FrontServer]:
    """start_front for a with-block: the front is stopped however the block ends."""
    front = start_front(api_addr, workdir, env)
    try:
        yield front
    finally:
        front.stop()
