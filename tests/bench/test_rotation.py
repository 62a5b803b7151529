"""The CRUD rotation (bench/rotation.py): the visiting order, the per-slot arithmetic on synthetic reads, and one
short rotation against the real Flask service and its METRICS=off twin."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import httpx
import pytest

from bench import intervals, rotation
from bench.config import load_config
from bench.context import RunContext
from bench.k6run import Samples
from bench.model import ConfigResult, Pinning


def test_every_round_visits_every_service_in_the_reverse_order_of_the_last() -> None:
    assert rotation.visiting_order(["a", "b", "c"], 4) == list("abccbaabccba")
    slots = rotation.schedule({"a": "http://127.0.0.1:1", "b": "http://127.0.0.1:2"}, 2, 3.0)
    assert [(s.name, s.start_s) for s in slots] == [("a", 0.0), ("b", 3.5), ("b", 7.0), ("a", 10.5)]
    assert all(s.seconds == 3.0 for s in slots)


def test_a_slot_counts_the_reads_answered_after_its_warm_up_and_inside_its_window() -> None:
    samples = Samples(first_start_s=100.0)
    samples.status_ms["crud"] = {"200": [5.0, 6.0, 7.0, 8.0], "500": [1.0]}
    samples.ended_s["crud"] = {"200": [100.5, 101.2, 102.9, 103.1], "500": [101.5]}
    assert rotation.slot_reads(samples, warmup_s=1.0, window_s=2.0) == [6.0, 7.0]


def _slots(names: list[str], rounds: int) -> list[rotation.Slot]:
    return rotation.schedule({name: "http://127.0.0.1:1" for name in names}, rounds, 3.0)


def test_the_capacity_interval_is_over_the_slots_so_drift_between_them_widens_it() -> None:
    slots = _slots(["flask", "fastapi"], 4)
    steady = {"flask": 400, "fastapi": 300}
    reads = [[2.0] * steady[s.name] for s in slots]
    found = rotation.summarise(slots, reads, clients=16, window_s=2.0)
    flask = found.capacities["flask"]
    assert flask.slots == 4 and flask.window_s == 8.0 and flask.rps.n == 1600
    assert flask.rps.estimate == pytest.approx(200.0) and flask.rps.low == pytest.approx(200.0)
    # the host ran at half speed for two of flask's slots: an interval that holds both speeds
    drifting = [[2.0] * (steady[s.name] // (2 if s.name == "flask" and i in (0, 7) else 1)) for i, s in enumerate(slots)]
    drifted = rotation.summarise(slots, drifting, clients=16, window_s=2.0).capacities["flask"].rps
    assert drifted.low < 100 and drifted.estimate == pytest.approx(150.0) and drifted.high > 200
    assert drifted == dataclasses.replace(intervals.mean([100, 200, 200, 100]), n=1200, method="t over 4 slots")
    assert not found.metrics_overhead


def test_the_metrics_overhead_pairs_each_twin_slot_with_its_neighbour() -> None:
    slots = _slots(["flask", "flask-metrics-off"], 3)
    # a host that halves its speed in the second round: every pair still reads 1.25
    speed = {0: 1.0, 1: 0.5, 2: 1.0}
    reads = []
    for index, slot in enumerate(slots):
        base = 500 if slot.name.endswith("metrics-off") else 400
        reads.append([1.0] * int(base * speed[index // 2]))
    found = rotation.summarise(slots, reads, clients=16, window_s=2.0)
    overhead = found.metrics_overhead["flask"]
    assert overhead.n == 3 and overhead.estimate == pytest.approx(1.25)
    assert set(found.capacities) == {"flask"}  # the twin is no capacity of its own


def test_services_of_adds_twins_only_with_the_compass_on() -> None:
    config = load_config()
    assert rotation.services_of(config) == ["flask", "flask-metrics-off", "fastapi", "fastapi-metrics-off", "django",
                                            "django-metrics-off"]
    quick = load_config(profile="quick")
    assert rotation.services_of(quick) == ["flask", "fastapi", "django"]
    assert rotation.planned_seconds(config) > rotation.planned_seconds(quick)


@pytest.mark.slow
def test_a_short_rotation_reads_the_service_and_its_twin_in_turn(tmp_path: Path) -> None:
    config = load_config(profile="quick")
    plan = dataclasses.replace(config.plan, frameworks=("flask",), crud_capacity_clients=4, crud_capacity_rounds=2,
                               crud_capacity_s=1, crud_slot_warmup_s=0.5)
    compass = dataclasses.replace(config.compass, enabled=True, metrics_overhead_frameworks=("flask",))
    ctx = RunContext(config=dataclasses.replace(config, plan=plan, compass=compass), run_dir=tmp_path,
                     pinning=Pinning(service_cpus=[], k6_cpus=[], pinned=False, note="test"), texts_file=None,
                     say=lambda where, what: None)
    record = ConfigResult(framework="flask", mode="off")
    urls = {}
    real_start = ctx.start

    def start(framework, mode, **kwargs):
        running = real_start(framework, mode, **kwargs)
        urls[kwargs.get("tag", "")] = running.base_url
        return running

    ctx.start = start
    found = rotation.measure(ctx, {"flask": record})
    capacity = found.capacities["flask"]
    assert capacity.slots == 2 and capacity.rps.bounded and capacity.rps.estimate > 0
    overhead = found.metrics_overhead["flask"]
    assert overhead.n == 2 and math.isfinite(overhead.estimate) and overhead.estimate > 0
    assert record.startup_s["on"] > 0 and record.idle_memory["api"].pss_mib > 0
    # both services were stopped once read
    for url in urls.values():
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{url}/health", timeout=2.0)
