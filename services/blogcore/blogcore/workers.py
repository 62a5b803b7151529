"""Readiness across a service's worker processes: each posts whether it can serve, /ready answers for all.

gunicorn's master makes a directory (WORKER_STATE_DIR_ENV) before forking; every worker keeps a file there named
after its pid, and the master removes a dead worker's file. A service is ready when as many live workers as it
runs say so: one worker still warming up, or unable to reach its inference service, keeps it out of rotation.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from blogcore.ai.backend import Readiness

WORKER_STATE_DIR_ENV = "BLOGCORE_WORKER_STATE_DIR"
# How often a worker re-posts its state: a probe sees a change at most this late.
POST_INTERVAL_S = 0.5


@dataclass(frozen=True)
class ServiceReadiness:
    ready_workers: int
    expected_workers: int

    @property
    def ready(self) -> bool:
        return self.ready_workers >= self.expected_workers


def state_dir() -> Path | None:
    value = os.environ.get(WORKER_STATE_DIR_ENV)
    return Path(value) if value else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkerBoard:
    """This worker's entry on the service's board, and the count of the ready ones."""

    def __init__(self, directory: Path, expected_workers: int) -> None:
        self.directory = directory
        self.expected_workers = expected_workers
        # The poster thread and a /ready request may post at once; they must not share the temporary file.
        self._lock = threading.Lock()

    def post(self, ready: bool, phase: str) -> None:
        pid = os.getpid()
        tmp = self.directory / f".{pid}.tmp"
        with self._lock:
            tmp.write_text(json.dumps({"ready": ready, "phase": phase}))
            tmp.replace(self.directory / f"{pid}.json")  # atomic: a reader never sees half a file

    def service(self) -> ServiceReadiness:
        ready = 0
        for entry in self.directory.glob("*.json"):
            try:
                state = json.loads(entry.read_text())
            except (OSError, ValueError):
                continue  # removed or replaced meanwhile
            if state.get("ready") and entry.stem.isdigit() and _alive(int(entry.stem)):
                ready += 1
        return ServiceReadiness(ready, self.expected_workers)


def forget_worker(pid: int) -> None:
    """For the master's child_exit hook: a dead worker no longer counts."""
    directory = state_dir()
    if directory is not None:
        (directory / f"{pid}.json").unlink(missing_ok=True)


class ReadinessPoster:
    """A daemon thread that keeps this worker's entry current, whether or not a probe reaches this worker."""

    def __init__(self, board: WorkerBoard, readiness: Callable[[], Readiness]) -> None:
        self.board = board
        self._readiness = readiness
        self._stop = threading.Event()
        self._pid: int | None = None

    def start(self) -> None:
        # Imported here: gunicorn's config imports this module before prometheus_client may be imported.
        from blogcore.memory import SERVICE_ROOT_PID_ENV

        # The master that preloaded the app is no worker: its entry would count as one that never serves.
        if self._pid == os.getpid() or os.environ.get(SERVICE_ROOT_PID_ENV) == str(os.getpid()):
            return
        self._pid = os.getpid()
        self._stop = threading.Event()
        threading.Thread(target=self._loop, name="readiness-poster", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def post_now(self) -> Readiness:
        state = self._readiness()
        self.board.post(state.ready, str(state.detail.get("phase", "ready" if state.ready else "starting")))
        return state

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.post_now()
            except Exception:  # noqa: BLE001 - a failed post only delays readiness; the next one retries
                pass
            self._stop.wait(POST_INTERVAL_S)
