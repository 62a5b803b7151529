"""Child processes of the benchmark and of the tests (services, k6, stand-ins): the one way to start them, wait until
they are ready, and stop them.

Every child starts in its own session so that stopping it kills its whole tree (gunicorn workers, nginx, k6), and
every live child is registered so Ctrl-C can stop all of them.

    child = Child("flask API", ["bash", "start.sh"], env, log_path, cpus=(0,))
    child.wait_ready(lambda: http_ok(f"{url}/ready"), timeout_s=90)   # ServiceFailed, with the log's tail, if not
    ...
    child.stop()
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import httpx
import psutil

_LIVE: dict[int, "Child"] = {}


class ServiceFailed(RuntimeError):
    """A service did not come up; the message carries the tail of its log."""


class PortTaken(RuntimeError):
    """A fixed port from the configuration is already in use."""


def free_port() -> int:
    """A loopback port nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_port_free(port: int, what: str) -> int:
    """Return port (a free one when port is 0); raise PortTaken naming the service when it is in use."""
    if port == 0:
        return free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise PortTaken(f"port {port} for {what} is already in use on 127.0.0.1; stop whatever holds it "
                            f"(e.g. `ss -ltnp | grep :{port}`) or set it to 0 in the config") from None
    return port


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:])


def http_ok(url: str, timeout_s: float = 2.0) -> bool:
    """Readiness probe: the URL answers 200 (a refused or timed-out connection is simply not ready yet)."""
    try:
        return httpx.get(url, timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def grpc_health(address: str, service: str = "", timeout_s: float = 1.0) -> str:
    """The gRPC health status of service at address by name (SERVING, NOT_SERVING...), or the call's error code."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
        except grpc.RpcError as error:
            return error.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def grpc_serving(address: str, timeout_s: float = 2.0) -> bool:
    """Readiness probe: the gRPC server at address reports SERVING."""
    return grpc_health(address, timeout_s=timeout_s) == "SERVING"


def _pin(cpus: tuple[int, ...] | None):
    if not cpus:
        return None

    def pin_child() -> None:
        # Inherited by everything the child forks: workers and the inference service stay on these cores.
        os.sched_setaffinity(0, cpus)

    return pin_child


class Child:
    """One started process (and, through its process group, everything it forks), its output in log_path."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_path: Path,
                 cpus: tuple[int, ...] | None = None, cwd: Path | None = None) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # Appended to, so a restarted service keeps the story of its earlier lives; the child holds its own copy
        # of the descriptor, so ours is closed at once.
        with open(log_path, "ab") as log:
            self.popen = subprocess.Popen(
                argv, env=dict(env), cwd=cwd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=_pin(cpus),
            )
        self.pid = self.popen.pid
        _LIVE[self.pid] = self

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def running(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def log(self) -> str:
        """Everything the child has written so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, ready: Callable[[], bool], timeout_s: float, interval_s: float = 0.25,
                   watch: Iterable[Child] = ()) -> None:
        """wait_until ready() while watching this child (and watch); stop this child if it never gets there."""
        try:
            wait_until(ready, timeout_s, interval_s, watch=[self, *watch])
        except BaseException:
            self.stop()
            raise

    def stop(self, grace_s: float = 15.0) -> int | None:
        """SIGTERM the process group, SIGKILL it after grace_s; returns the exit code. Safe to call twice."""
        try:
            # Taken before the signals orphan them, so that stop returns only once they are gone (their ports free).
            tree = _descendants(self.pid)
            if self.popen.poll() is None:
                _signal_group(self.pid, signal.SIGTERM)
                try:
                    self.popen.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    pass
            # The leader may be gone while children of its group live on: kill what is left either way.
            _signal_group(self.pid, signal.SIGKILL)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            _wait_gone(tree, timeout_s=5)
        finally:
            _LIVE.pop(self.pid, None)
        return self.popen.returncode


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(processes: list[psutil.Process], timeout_s: float) -> None:
    # SIGKILL is delivered asynchronously: orphaned grandchildren may still hold sockets for a moment.
    deadline = time.monotonic() + timeout_s
    while any(_alive(p) for p in processes) and time.monotonic() < deadline:
        time.sleep(0.02)


def stop_all(grace_s: float = 5.0) -> list[str]:
    """Stop every live child (Ctrl-C path); returns their names."""
    names = []
    for child in list(_LIVE.values()):
        names.append(child.name)
        child.stop(grace_s)
    return names


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.25,
               watch: Iterable[Child] = ()) -> None:
    """Poll predicate until true; ServiceFailed if a watched child exits or the timeout passes."""
    watch = list(watch)
    deadline = time.monotonic() + timeout_s
    while True:
        for child in watch:
            if not child.running():
                raise ServiceFailed(
                    f"{child.name} exited with code {child.popen.returncode} while starting; "
                    f"last lines of {child.log_path}:\n{tail(child.log_path)}"
                )
        if predicate():
            return
        if time.monotonic() >= deadline:
            names = ", ".join(c.name for c in watch) or "service"
            logs = "\n".join(f"--- {c.name} ({c.log_path}):\n{tail(c.log_path)}" for c in watch)
            raise ServiceFailed(f"{names} not ready after {timeout_s:.0f}s\n{logs}")
        time.sleep(interval_s)
