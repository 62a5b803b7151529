"""Start a real API server (its start.sh under gunicorn) on a free loopback port, and stop it by pid; likewise
the buffering front before it (services/front/start.sh).

    server = start_api("flask", {"INFERENCE_MODE": "off"}, tmp_path)
    try: httpx.get(server.url("/health"))
    finally: server.stop()
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from bench import catalog

REPO_ROOT = Path(__file__).resolve().parents[1]

# Every framework with a manifest (bench/catalog.py), the tests' own fixture ones when BENCH_SERVICE_PATH names them.
FRAMEWORKS = catalog.frameworks()
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_dir(framework: str) -> Path:
    return catalog.service(framework).directory


def stop_session(process: subprocess.Popen) -> None:
    """SIGTERM a server started in its own session, then SIGKILL its process group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
    # The server runs in its own session, so its group id is its pid: this reaches only what it started.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if process.poll() is None:
        process.wait(timeout=STOP_TIMEOUT_S)


@dataclass
class ApiServer:
    framework: str
    base_url: str
    process: subprocess.Popen
    log_path: Path
    workdir: Path
    env: dict[str, str] = field(repr=False)
    # The workers that first served; tests compare against them to prove no worker died.
    initial_worker_pids: set[int] = field(default_factory=set)

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def worker_pids(self) -> set[int]:
        """The pids of gunicorn's workers now (children of the master)."""
        try:
            return {child.pid for child in psutil.Process(self.pid).children(recursive=False)}
        except psutil.NoSuchProcess:
            return set()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM the master (gunicorn stops its workers), then SIGKILL its process group if it lingers."""
        stop_session(self.process)


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
    log_path = workdir / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["bash", str(catalog.service(framework).start_script)],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = ApiServer(framework, f"http://127.0.0.1:{port}", process, log_path, workdir, full_env)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"{framework} server exited with {process.returncode}:\n{server.log()[-4000:]}")
        try:
            # One worker answering is not enough: tests count on every worker having booted.
            answered = httpx.get(server.url(ready_path), timeout=2.0).status_code == 200
            if answered and len(server.worker_pids()) == workers:
                server.initial_worker_pids = server.worker_pids()
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{framework} server did not answer {ready_path} in {timeout_s}s:\n{server.log()[-4000:]}")


@contextlib.contextmanager
def running_api(framework: str, env: Mapping[str, str | None] | None, workdir: Path, **options: object) -> Iterator[ApiServer]:
    """start_api for a with-block (or a yield fixture): the server is stopped however the block ends."""
    server = start_api(framework, env, workdir, **options)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


FRONT_START = REPO_ROOT / "services" / "front" / "start.sh"


@dataclass
class FrontServer:
    """The buffering nginx front (services/front/start.sh) of one API."""

    base_url: str
    port: int
    process: subprocess.Popen
    log_path: Path

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """SIGTERM the start script (it stops nginx and removes its run directory), then SIGKILL its group."""
        stop_session(self.process)


def start_front(api_addr: str, workdir: Path, env: Mapping[str, str] | None = None) -> FrontServer:
    """Start a front on a free loopback port before api_addr (host:port); wait until nginx listens."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    full_env = {**os.environ, "FRONT_PORT": str(port), "API_ADDR": api_addr, **(env or {})}
    log_path = workdir / "front.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(FRONT_START)], env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    front = FrontServer(f"http://127.0.0.1:{port}", port, process, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the front exited with {process.returncode}:\n{front.log()[-4000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return front
        time.sleep(0.1)
    front.stop()
    raise RuntimeError(f"the front did not listen on {port} in {START_TIMEOUT_S}s:\n{front.log()[-4000:]}")


@contextlib.contextmanager
def running_front(api_addr: str, workdir: Path, env: Mapping[str, str] | None = None) -> Iterator[FrontServer]:
    """start_front for a with-block: the front is stopped however the block ends."""
    front = start_front(api_addr, workdir, env)
    try:
        yield front
    finally:
        front.stop()
