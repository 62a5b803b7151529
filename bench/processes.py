"""Child processes of the benchmark (services and k6): own process groups, CPU pinning, and a clean stop.

Every child starts in its own session so that stopping it kills its whole tree (gunicorn workers, k6),
and every live child is registered so Ctrl-C can stop all of them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

_LIVE: dict[int, "Child"] = {}


class ServiceFailed(RuntimeError):
    """A service did not come up; the message carries the tail of its log."""


class PortTaken(RuntimeError):
    """A fixed port from the configuration is already in use."""


def free_port() -> int:
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


def _pin(cpus: tuple[int, ...] | None):
    if not cpus:
        return None

    def pin_child() -> None:
        # Inherited by everything the child forks: workers and the inference service stay on these cores.
        os.sched_setaffinity(0, cpus)

    return pin_child


class Child:
    """One started process (and, through its process group, everything it forks)."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_path: Path,
                 cpus: tuple[int, ...] | None = None, cwd: Path | None = None) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(
            argv, env=dict(env), cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=_pin(cpus),
        )
        self.pid = self.popen.pid
        _LIVE[self.pid] = self

    def running(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM the process group, SIGKILL it after grace_s; safe to call twice."""
        try:
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
        finally:
            _LIVE.pop(self.pid, None)
            self._log.close()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all(grace_s: float = 5.0) -> list[str]:
    """Stop every live child (Ctrl-C path); returns their names."""
    names = []
    for child in list(_LIVE.values()):
        names.append(child.name)
        child.stop(grace_s)
    return names


def wait_until(predicate, timeout_s: float, interval_s: float = 0.25, watch: Iterable[Child] = ()) -> None:
    """Poll predicate until true; ServiceFailed if a watched child exits or the timeout passes."""
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
