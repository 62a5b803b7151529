"""blogcore.ai.admission: the bulkhead, deadline-aware admission, the client-gone check and throttled logging."""

from __future__ import annotations

import logging
import socket

import pytest

from blogcore.ai import admission
from blogcore.ai.admission import Bulkhead, DeadlineQueue, ServiceTimes, ThrottledLog, socket_client_gone
from blogcore.ai.backend import AIOverloaded, Task
from blogcore.ai_errors_http import http_error_for


def test_service_times_follow_a_change_of_load_smoothly() -> None:
    times = ServiceTimes()
    assert times.expected("title") == 0.0  # unmeasured: never refused for time
    times.observe("title", 1.0)
    assert times.expected("title") == 1.0
    times.observe("title", 2.0)
    assert 1.0 < times.expected("title") < 2.0


def test_the_queue_admits_while_the_work_ahead_leaves_time() -> None:
    times = ServiceTimes()
    times.observe("summarize", 4.0)
    queue = DeadlineQueue(concurrency=2, times=times)
    first, second = queue.admit(Task.SUMMARIZE, 10.0), queue.admit(Task.SUMMARIZE, 10.0)  # both start at once
    third = queue.admit(Task.SUMMARIZE, 10.0)  # 8 s of work over 2 slots ahead: 4 s wait + 4 s = 8 s <= 10 s
    with pytest.raises(AIOverloaded) as refused:  # 12 s over 2 slots: 6 s wait + 4 s = 10 s > 9 s
        queue.admit(Task.SUMMARIZE, 9.0)
    assert http_error_for(refused.value).headers["Retry-After"] == "6"
    queue.leave(third)
    assert queue.admit(Task.SUMMARIZE, 9.0)  # room again once a call left
    queue.leave(first)
    queue.leave(second)
    queue.leave(None)  # a call admitted without the guard holds no ticket


def test_a_full_bulkhead_refuses_with_the_recent_request_time_as_retry_after() -> None:
    bulkhead = Bulkhead(1)
    with bulkhead.place():
        pass  # a request of ~0 s: Retry-After is still at least one second
    with bulkhead.place():
        with pytest.raises(AIOverloaded) as refused:
            with bulkhead.place():
                pass
        answer = http_error_for(refused.value)
        assert answer.status == 429 and answer.headers["Retry-After"] == "1"
    assert bulkhead.held == 0


def test_retry_after_counts_down_with_the_longest_running_place() -> None:
    now = [100.0]
    bulkhead = Bulkhead(2, clock=lambda: now[0])
    with bulkhead.place():
        now[0] += 10.0  # requests have taken 10 s
    with bulkhead.place():
        now[0] += 7.0
        with bulkhead.place():  # the first place has run 7 of its expected 10 s, the second none
            with pytest.raises(AIOverloaded) as refused:
                with bulkhead.place():
                    pass
            assert http_error_for(refused.value).headers["Retry-After"] == "3"
            now[0] += 5.0  # overdue: come back in the least time there is
            with pytest.raises(AIOverloaded) as overdue:
                with bulkhead.place():
                    pass
            assert http_error_for(overdue.value).headers["Retry-After"] == "1"
    assert bulkhead.held == 0


def test_retry_after_grows_with_the_crowd_of_refused_clients_and_shrinks_when_it_goes() -> None:
    now = [100.0]
    bulkhead = Bulkhead(2, clock=lambda: now[0])

    def refusal() -> int:
        with pytest.raises(AIOverloaded) as refused:
            with bulkhead.place():
                pass
        return int(http_error_for(refused.value).headers["Retry-After"])

    with bulkhead.place():
        now[0] += 0.1  # a request holds its place 0.1 s: the two places free 20 times a second
    with bulkhead.place(), bulkhead.place():
        # 51 clients refused within a second: the 51st waits for the 50 ahead of it, 50 x 0.05 s
        answers = []
        for _ in range(51):
            answers.append(refusal())
            now[0] += 0.015
        assert answers[0] == 1 and answers[-1] == 3
        now[0] += 10.0  # the crowd has gone: nobody was refused for longer than the last Retry-After
        assert refusal() == 1
    assert bulkhead.held == 0


def test_retry_after_is_capped() -> None:
    now = [100.0]
    bulkhead = Bulkhead(1, clock=lambda: now[0])
    with bulkhead.place():
        now[0] += 20.0
    with bulkhead.place():
        for _ in range(5):
            with pytest.raises(AIOverloaded) as refused:
                with bulkhead.place():
                    pass
    assert http_error_for(refused.value).headers["Retry-After"] == str(admission.MAX_RETRY_AFTER_S)


def test_socket_client_gone_sees_a_closed_peer_but_not_a_waiting_one() -> None:
    server, client = socket.socketpair()
    with server, client:
        gone = socket_client_gone(server)
        assert not gone()
        client.sendall(b"next pipelined request")
        assert not gone()  # data waiting is a live client; the peek consumed nothing
        assert server.recv(100) == b"next pipelined request"
        client.close()
        assert gone()
    assert not socket_client_gone(None)()


def test_throttled_log_says_how_many_it_folded(caplog: pytest.LogCaptureFixture) -> None:
    throttled = ThrottledLog(logging.getLogger("test.throttled"), every_s=3600)
    with caplog.at_level(logging.WARNING, logger="test.throttled"):
        for _ in range(5):
            throttled.warning("bulkhead", "refused")
        throttled.warning("deadline", "late")
    assert [r.getMessage() for r in caplog.records] == [
        "refused (1 since the last such line)", "late (1 since the last such line)"
    ]
