import multiprocessing
import os
import signal
import threading
import time

import pytest

from blogcore.ai.compute_gate import ComputeGate, NoGate, compute_gate

WAIT_S = 30
HOLD_S = 0.05


def _take_and_log(directory, log_path, rounds):
    gate = ComputeGate(directory, 1)
    for _ in range(rounds):
        with gate.slot():
            entered = time.monotonic()
            time.sleep(HOLD_S)
            with open(log_path, "a") as log:
                log.write(f"{os.getpid()} {entered} {time.monotonic()}\n")


def test_one_slot_lets_the_calls_of_two_processes_through_one_at_a_time(tmp_path):
    log_path = tmp_path / "calls.log"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_take_and_log, args=(tmp_path, log_path, 6)) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        for worker in workers:
            worker.join(WAIT_S)
            assert worker.exitcode == 0
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
                worker.join(WAIT_S)
    calls = sorted(tuple(float(x) for x in line.split()[1:]) for line in log_path.read_text().splitlines())
    assert len(calls) == 12 and len({line.split()[0] for line in log_path.read_text().splitlines()}) == 2
    for (_, left), (entered, _) in zip(calls, calls[1:]):
        assert entered >= left, "two processes computed at once behind a one-slot gate"


def _hold_forever(directory, holding):
    with ComputeGate(directory, 1).slot():
        holding.set()
        time.sleep(WAIT_S * 10)


def test_a_process_killed_in_its_slot_leaves_it_free(tmp_path):
    context = multiprocessing.get_context("fork")
    holding = context.Event()
    holder = context.Process(target=_hold_forever, args=(tmp_path, holding))
    entered = context.Event()
    taker = context.Process(target=lambda: (ComputeGate(tmp_path, 1).slot().__enter__(), entered.set()))
    holder.start()
    try:
        assert holding.wait(WAIT_S)
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(WAIT_S)
        taker.start()
        taker.join(WAIT_S)
        assert entered.is_set() and taker.exitcode == 0
    finally:
        for process in (holder, taker):
            if process.is_alive():
                process.kill()
                process.join(WAIT_S)


def test_two_slots_let_two_calls_through_at_once(tmp_path):
    gate = ComputeGate(tmp_path, 2)
    both_in = threading.Event()

    def two_calls():
        with gate.slot(), gate.slot():  # one slot would block the second call for good
            both_in.set()

    threading.Thread(target=two_calls, daemon=True).start()
    assert both_in.wait(WAIT_S)


@pytest.mark.parametrize(
    ("directory", "slots", "model_threads", "gated"),
    [("dir", 1, 2, True), ("dir", 2, 2, False), ("dir", 4, 2, False), (None, 1, 8, False)],
)
def test_a_gate_only_where_model_threads_could_outnumber_the_slots(tmp_path, directory, slots, model_threads, gated):
    gate = compute_gate(tmp_path if directory else None, slots, model_threads)
    assert isinstance(gate, ComputeGate) is gated and isinstance(gate, NoGate) is not gated


def test_a_gate_needs_a_slot(tmp_path):
    with pytest.raises(ValueError):
        ComputeGate(tmp_path, 0)
