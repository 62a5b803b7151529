import os
import subprocess
import sys
import threading

import pytest

from blogcore.ai.cpu_priority import AUTOGROUP, yield_cpu_to_requests, yield_session_to_requests
from blogcore.settings import APISettings

pytestmark = pytest.mark.skipif(not hasattr(os, "setpriority"), reason="per-thread nice is a Linux feature")


def nice_of(thread_id: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, thread_id)


def nice_after(increment: int) -> tuple[int, int]:
    """(before, after) yield_cpu_to_requests(increment) in a fresh thread."""
    seen = []

    def body():
        me = threading.get_native_id()
        before = nice_of(me)
        yield_cpu_to_requests(increment)
        seen.append((before, nice_of(me)))

    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    return seen[0]


def test_only_the_calling_thread_yields_and_by_the_increment_given():
    main_before = nice_of(threading.get_native_id())
    before, after = nice_after(5)
    assert after == min(19, before + 5)
    assert nice_of(threading.get_native_id()) == main_before


def test_zero_leaves_the_thread_alone_and_nothing_goes_past_19():
    before, after = nice_after(0)
    assert after == before
    assert nice_after(19)[1] == 19


def test_threads_started_by_a_yielding_thread_inherit_its_priority():
    seen = []

    def child():
        seen.append(nice_of(threading.get_native_id()))

    def parent():
        yield_cpu_to_requests(7)
        seen.append(nice_of(threading.get_native_id()))
        inner = threading.Thread(target=child)
        inner.start()
        inner.join()

    outer = threading.Thread(target=parent)
    outer.start()
    outer.join()
    assert seen[0] == seen[1] and seen[0] >= 7


def test_the_guard_decides_whether_in_process_model_threads_yield():
    assert APISettings(ai_guard="on", ai_nice=10).effective_ai_nice == 10
    assert APISettings(ai_guard="off", ai_nice=10).effective_ai_nice == 0
    with pytest.raises(ValueError):
        APISettings(ai_nice=20)


def test_a_session_leader_lowers_its_autogroup_by_the_increment(tmp_path, monkeypatch):
    autogroup = tmp_path / "autogroup"
    autogroup.write_text("/autogroup-42 nice 2\n")
    monkeypatch.setattr(os, "getsid", lambda pid: os.getpid())
    assert yield_session_to_requests(10, autogroup)
    assert autogroup.read_text() == "12"
    autogroup.write_text("/autogroup-42 nice 15\n")
    assert yield_session_to_requests(10, autogroup) and autogroup.read_text() == "19"


def test_a_process_that_shares_its_session_or_has_nothing_to_yield_leaves_the_group_alone(tmp_path, monkeypatch):
    autogroup = tmp_path / "autogroup"
    autogroup.write_text("/autogroup-42 nice 0\n")
    monkeypatch.setattr(os, "getsid", lambda pid: os.getpid() + 1)
    assert not yield_session_to_requests(10, autogroup)
    monkeypatch.setattr(os, "getsid", lambda pid: os.getpid())
    assert not yield_session_to_requests(0, autogroup)
    assert autogroup.read_text() == "/autogroup-42 nice 0\n"
    assert not yield_session_to_requests(10, tmp_path / "missing")


@pytest.mark.skipif(not AUTOGROUP.exists(), reason="no autogroup in this kernel")
def test_a_service_in_its_own_session_lowers_its_real_autogroup():
    code = ("from blogcore.ai.cpu_priority import AUTOGROUP, yield_session_to_requests\n"
            "print(yield_session_to_requests(7), AUTOGROUP.read_text().split()[-1])")
    found = subprocess.run([sys.executable, "-c", code], start_new_session=True, capture_output=True, text=True,
                           timeout=60, check=True).stdout.split()
    assert found == ["True", "7"]
