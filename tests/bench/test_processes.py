"""bench/processes.py, the one launcher of the benchmark and the tests: start, wait until ready, stop the whole tree."""

import os
import socket
import sys

import psutil
import pytest

from bench import processes
from bench.processes import (
    Child,
    PortTaken,
    ServiceFailed,
    ensure_port_free,
    free_port,
    http_ok,
    stop_all,
    wait_until,
)

# A parent that forks two sleepers and waits: what a start script with gunicorn and its workers looks like.
FORKS_TWO = "sleep 300 & sleep 300 & wait"


def shell(tmp_path, script: str, name: str = "child", **options) -> Child:
    return Child(name, ["bash", "-c", script], os.environ, tmp_path / f"{name}.log", **options)


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def descendants_once_started(child: Child, count: int) -> list[psutil.Process]:
    wait_until(lambda: len(psutil.Process(child.pid).children(recursive=True)) >= count, 10, 0.05, watch=[child])
    return psutil.Process(child.pid).children(recursive=True)


def test_a_child_that_dies_while_starting_fails_with_its_code_and_log(tmp_path):
    child = shell(tmp_path, "echo 'cannot bind the port' >&2; exit 3", "broken")
    with pytest.raises(ServiceFailed) as caught:
        child.wait_ready(lambda: False, timeout_s=30, interval_s=0.05)
    assert "broken exited with code 3" in str(caught.value)
    assert "cannot bind the port" in str(caught.value)


def test_a_child_never_ready_is_stopped_with_its_whole_group(tmp_path):
    child = shell(tmp_path, f"echo starting; {FORKS_TWO}", "stuck")
    sleepers = descendants_once_started(child, 2)
    with pytest.raises(ServiceFailed) as caught:
        child.wait_ready(lambda: False, timeout_s=0.5, interval_s=0.05)
    assert "stuck not ready" in str(caught.value) and "starting" in str(caught.value)
    assert not child.running()
    assert not alive(sleepers)


def test_ready_returns_with_the_child_running(tmp_path):
    child = shell(tmp_path, "touch ready; sleep 300", cwd=tmp_path)
    try:
        child.wait_ready(lambda: (tmp_path / "ready").exists(), timeout_s=30, interval_s=0.05)
        assert child.running()
    finally:
        child.stop()


def test_stop_reaches_grandchildren_and_kills_what_ignores_sigterm(tmp_path):
    child = shell(tmp_path, f"trap '' TERM; {FORKS_TWO}")
    forked = descendants_once_started(child, 2)
    code = child.stop(grace_s=0.2)
    assert code == -9  # the leader ignored SIGTERM and was killed
    assert not alive(forked)
    assert child.stop() == -9, "a second stop is harmless"


def test_stop_returns_the_exit_code_of_a_graceful_exit(tmp_path):
    child = shell(tmp_path, f"trap 'exit 0' TERM; {FORKS_TWO}")
    descendants_once_started(child, 2)
    assert child.stop() == 0


def test_stop_all_stops_every_live_child(tmp_path, monkeypatch):
    # Only this test's children: servers that session fixtures started elsewhere must live on.
    monkeypatch.setattr(processes, "_LIVE", {})
    children = [shell(tmp_path, "sleep 300", name) for name in ("first", "second")]
    assert stop_all(grace_s=5) == ["first", "second"]
    assert not any(child.running() for child in children)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_cpus_pin_the_child_and_what_it_forks(tmp_path):
    cpu = sorted(os.sched_getaffinity(0))[0]
    script = "import os, subprocess, sys; print(sorted(os.sched_getaffinity(0))); sys.stdout.flush(); " \
             "subprocess.run([sys.executable, '-c', 'import os; print(sorted(os.sched_getaffinity(0)))'])"
    child = Child("pinned", [sys.executable, "-c", script], os.environ, tmp_path / "pinned.log", cpus=(cpu,))
    assert child.wait(timeout=30) == 0
    assert child.log().split() == [f"[{cpu}]", f"[{cpu}]"]


def test_the_log_is_appended_to_across_lives(tmp_path):
    for life in ("first", "second"):
        Child("service", ["echo", f"{life} life"], os.environ, tmp_path / "service.log").wait(timeout=30)
    assert (tmp_path / "service.log").read_text().splitlines() == ["first life", "second life"]


def test_a_taken_port_is_named_and_zero_picks_a_free_one():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(PortTaken, match=f"port {taken} for the test API is already in use"):
            ensure_port_free(taken, "the test API")
    free = ensure_port_free(0, "the test API")
    assert ensure_port_free(free, "the test API") == free
    assert not http_ok(f"http://127.0.0.1:{free_port()}/health", timeout_s=1)
