"""In-process models of all the API's workers compute on at most as many cores as the service was given.

Every worker holds its own models and its own model thread. With more workers than cores (the benchmark pins a
service's 2 workers to one core) the model threads time-slice the same core, and each answer then costs about a
third more CPU than when one thread computes alone (measured: 56 ms against 43 ms per answer, tiny models, both
workers busy beside 48 AI clients): the threads evict each other's caches every few milliseconds. A model call takes
one of the host's compute slots first, so calls run one after another instead, and nothing else changes.

The slots are lock files in the directory the workers share (gunicorn's worker state directory): the kernel frees
a lock when its process dies, so a worker killed mid-call never leaves a slot taken.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ComputeGate:
    """`slots` model calls at once across every process that opens the same directory; blocking, for model threads."""

    def __init__(self, directory: Path, slots: int) -> None:
        if slots < 1:
            raise ValueError("a compute gate needs at least one slot")
        self._paths = [directory / f"compute-slot-{index}.lock" for index in range(slots)]

    @contextmanager
    def slot(self) -> Iterator[None]:
        # One open file per call: flock belongs to an open file, so two threads of one process sharing a
        # descriptor would both "hold" the same slot.
        fds = [os.open(path, os.O_RDWR | os.O_CREAT, 0o600) for path in self._paths]
        try:
            held = self._take_free(fds)
            if held is None:
                # Every slot busy: wait on one (the kernel wakes a waiter when its holder lets go or dies); which one
                # depends on the thread, so the waiters of a many-slot gate spread over its slots.
                held = fds[threading.get_native_id() % len(fds)]
                fcntl.flock(held, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(held, fcntl.LOCK_UN)
        finally:
            for fd in fds:
                os.close(fd)

    @staticmethod
    def _take_free(fds: list[int]) -> int | None:
        for fd in fds:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            return fd
        return None


class NoGate:
    """Each process computes whenever its own threads are free (one process, or the guard off: the naive way)."""

    @contextmanager
    def slot(self) -> Iterator[None]:
        yield


def compute_gate(directory: Path | None, slots: int, model_threads: int) -> ComputeGate | NoGate:
    """A gate where the processes sharing `directory` could run more model threads than there are `slots`."""
    if directory is None or model_threads <= slots:
        return NoGate()
    return ComputeGate(directory, slots)
