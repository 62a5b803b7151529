"""Every framework's CRUD capacity (AI off) and what its Prometheus instrumentation costs, measured in turn.

All these services run at once on the service CPUs, idle but for the one being read: closed-loop readers visit each
for a short slot (k6/crud_rotation.js), every round in the reverse order of the round before (A B C, C B A, ...).
On a host whose speed drifts over minutes every API meets the same mix of fast and slow moments, and a capacity's
interval is over its slots (Student t), so drift widens the interval instead of moving the estimate. A framework's
METRICS=off twin stands next to its METRICS=on service in every round: the overhead is the geometric mean of the
adjacent pairs' ratios. The METRICS=on service is the framework's AI-off config: its start-up and idle memory are
read before any load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bench import intervals
from bench.centre import memory_of, ready_detail
from bench.config import BenchConfig
from bench.context import RunContext
from bench.intervals import Interval
from bench.k6run import Samples, read_samples_by, run_window
from bench.model import ConfigResult, CrudCapacity
from bench.services import RunningConfig

# Between two slots: the last reads of one end (k6's graceful stop) before the next API is read
SLOT_GAP_S = 0.5
METRICS_OFF = "-metrics-off"


@dataclass(frozen=True)
class Slot:
    name: str
    url: str
    start_s: float
    seconds: float


@dataclass
class Rotation:
    capacities: dict[str, CrudCapacity] = field(default_factory=dict)
    # reads per second in each of a service's slots, in the order they were read
    slot_rates: dict[str, list[float]] = field(default_factory=dict)
    # CRUD capacity with METRICS=off over METRICS=on, per framework that had a twin
    metrics_overhead: dict[str, Interval] = field(default_factory=dict)


def visiting_order(names: list[str], rounds: int) -> list[str]:
    """Every name once a round, each round the reverse of the one before: A B C C B A A B C ..."""
    return [name for index in range(rounds) for name in (names if index % 2 == 0 else names[::-1])]


def schedule(urls: dict[str, str], rounds: int, slot_s: float) -> list[Slot]:
    slots = []
    for index, name in enumerate(visiting_order(list(urls), rounds)):
        slots.append(Slot(name, urls[name], round(index * (slot_s + SLOT_GAP_S), 3), slot_s))
    return slots


def slot_reads(samples: Samples, warmup_s: float, window_s: float) -> list[float]:
    """Latencies of the reads answered 200 that ended inside the slot's window, after its warm-up."""
    start = (samples.first_start_s or 0.0) + warmup_s
    return [ms for ms, ended in zip(samples.status_ms.get("crud", {}).get("200", []),
                                    samples.ended_s.get("crud", {}).get("200", []))
            if start <= ended < start + window_s]


def services_of(config: BenchConfig) -> list[str]:
    """The rotation's services: every framework, and its METRICS=off twin where the compass asks for one."""
    twins = config.compass.metrics_overhead_frameworks if config.compass.enabled else ()
    return [name for fw in config.plan.frameworks for name in (fw, fw + METRICS_OFF) if name == fw or fw in twins]


def planned_seconds(config: BenchConfig, startup_s: float = 2.5) -> float:
    """A rough schedule for the ETA: the start-ups (AI off starts fast), then every slot and its gap."""
    plan = config.plan
    services = len(services_of(config))
    slot_s = plan.crud_slot_warmup_s + plan.crud_capacity_s + SLOT_GAP_S
    return services * (startup_s + plan.crud_capacity_rounds * slot_s) + 2.0


def start_services(ctx: RunContext, records: dict[str, ConfigResult]) -> dict[str, RunningConfig]:
    """Every framework in off mode (METRICS on), with its METRICS=off twin where the compass asks for one."""
    running: dict[str, RunningConfig] = {}
    try:
        for name in services_of(ctx.config):
            if name.endswith(METRICS_OFF):
                running[name] = ctx.start(name.removesuffix(METRICS_OFF), "off", api_env={"METRICS": "off"},
                                          tag=METRICS_OFF)
                continue
            framework = name
            service = running[framework] = ctx.start(framework, "off", guard="on")
            ctx.say(f"{framework}/off", f"ready after {service.startup_s:.1f}s")
            record = records.get(framework)
            if record is not None and record.mode == "off":
                record.startup_s["on"] = round(service.startup_s, 2)
                record.models = ready_detail(service)
                record.idle_memory = {part: memory_of(pid) for part, pid in service.roots().items()}
    except BaseException:
        stop(running)
        raise
    return running


def stop(running: dict[str, RunningConfig]) -> None:
    for service in running.values():
        service.stop()


def measure(ctx: RunContext, records: dict[str, ConfigResult]) -> Rotation:
    """Start the services, read them in turn, stop them; records (framework -> its off config) get what was read."""
    plan = ctx.config.plan
    running = start_services(ctx, records)
    slot_s = plan.crud_slot_warmup_s + plan.crud_capacity_s
    slots = schedule({name: service.base_url for name, service in running.items()}, plan.crud_capacity_rounds, slot_s)
    ctx.say("rotation", f"CRUD capacity of {len(running)} services in turn: {plan.crud_capacity_rounds} rounds of "
            f"{plan.crud_capacity_clients} readers for {slot_s:g}s each")
    try:
        summary_path, log_path = ctx.k6_paths("crud-rotation")
        record = run_window(
            scenario="crud_rotation", base_url=slots[0].url, target_name="rotation", rate=0.0,
            duration_s=slots[-1].start_s + slot_s, seed_ids=[], summary_path=summary_path, log_path=log_path,
            cpus=ctx.k6_cpus, ai_disabled_ok=True, grace_s=SLOT_GAP_S,
            extra_env={"SLOTS": json.dumps([slot.__dict__ for slot in slots]),
                       "READERS": str(plan.crud_capacity_clients)},
        )
    finally:
        stop(running)
    by_slot = read_samples_by(Path(record["samples_file"]), "slot")
    reads = [slot_reads(by_slot.get(str(index), Samples()), plan.crud_slot_warmup_s, plan.crud_capacity_s)
             for index in range(len(slots))]
    found = summarise(slots, reads, plan.crud_capacity_clients, plan.crud_capacity_s)
    for name, capacity in found.capacities.items():
        per_slot = ", ".join(f"{rate:,.0f}" for rate in found.slot_rates[name])
        ctx.say(name, f"CRUD capacity {capacity.rps.text(0, '/s')} (per slot: {per_slot})")
        if name in found.metrics_overhead:
            ctx.say(name, f"METRICS off over on: {found.metrics_overhead[name].text(3)}")
    return found


def summarise(slots: list[Slot], reads: list[list[float]], clients: int, window_s: float) -> Rotation:
    """Per service the capacity over its slots; per twin pair the overhead over the rounds' adjacent slots."""
    rates: dict[str, list[float]] = {}
    latencies: dict[str, list[float]] = {}
    for slot, answered in zip(slots, reads):
        rates.setdefault(slot.name, []).append(len(answered) / window_s)
        latencies.setdefault(slot.name, []).extend(answered)
    found = Rotation(slot_rates=rates)
    for name, per_slot in rates.items():
        if name.endswith(METRICS_OFF):
            continue
        rps = intervals.mean(per_slot)
        found.capacities[name] = CrudCapacity(
            clients=clients, window_s=window_s * len(per_slot), slots=len(per_slot),
            rps=Interval(rps.estimate, rps.low, rps.high, len(latencies[name]), f"t over {len(per_slot)} slots"),
            p50_ms=intervals.quantile(latencies[name], 0.5))
        twin = rates.get(name + METRICS_OFF)
        if twin:
            found.metrics_overhead[name] = intervals.geometric_mean(
                off / on for off, on in zip(twin, per_slot) if on > 0)
    return found
