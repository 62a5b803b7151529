"""The centre of the report: AI at and past capacity beside ordinary traffic, one framework x mode at a time.

For each config with AI: its AI capacity (closed-loop AI clients until consecutive windows agree), then reads at a
fixed fraction of the framework's CRUD capacity (AI off, bench/rotation.py), alone and beside AI offered open-loop
at multiples of the AI capacity, the guard on; then the same service started with the guard off (and, in process,
PRELOAD_MODELS: what preloading saves is read at idle) past capacity.
Every arm lasts long enough for the planned number of reads, and starts only when the previous arm's AI work has
left the service (or the service was restarted): no arm inherits another's queue.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import catalog, intervals
from bench.config import PlanConfig, ServicesConfig, SloConfig
from bench.context import RunContext
from bench.k6run import Samples, read_samples, run_window
from bench.model import AICapacity, AIOutcome, ConfigResult, CrudCapacity, CrudOutcome, LoadArm, Memory
from bench.serverstats import TreeSampler, snapshot
from bench.services import RunningConfig

REFUSALS = ("429", "503")


def ai_places(svc: ServicesConfig) -> int:
    """AI requests the service admits at once with the guard on: workers x bulkhead (0 = half the threads)."""
    return svc.web_workers * (svc.ai_bulkhead or max(1, svc.web_threads // 2))


def has_ai(mode: str) -> bool:
    return mode != "off"


@dataclass(frozen=True)
class Load:
    """What one k6 run of k6/ai_overload.js offers."""

    duration_s: float
    crud_rate: float = 0.0
    readers: int = 0
    ai_rate: float = 0.0
    ai_clients: int = 0
    # reads start this long after the AI load and run to the end
    read_after_s: float = 0.0


@dataclass(frozen=True)
class Request:
    kind: str
    status: str
    ms: float
    ended_s: float


def requests_of(samples: Samples, kind: str) -> list[Request]:
    return [Request(kind, status, ms, ended)
            for status, latencies in samples.status_ms.get(kind, {}).items()
            for ms, ended in zip(latencies, samples.ended_s.get(kind, {}).get(status, []))]


def run_load(ctx: RunContext, running: RunningConfig, label: str, load: Load) -> Samples:
    svc = ctx.config.services
    summary_path, log_path = ctx.k6_paths(f"{running.framework}-{running.mode}-{label}")
    record = run_window(
        scenario="ai_overload", base_url=running.base_url, target_name="api", rate=load.crud_rate,
        duration_s=load.duration_s, seed_ids=[], summary_path=summary_path, log_path=log_path, cpus=ctx.k6_cpus,
        ai_disabled_ok=not has_ai(running.mode), grace_s=ctx.config.plan.cutoff_s,
        extra_env={
            "AI_CLIENTS": str(load.ai_clients), "AI_RATE": f"{load.ai_rate:g}", "READERS": str(load.readers),
            "CRUD_RATE": f"{load.crud_rate:g}", "AI_TASKS": ",".join(ctx.config.plan.ai_tasks),
            "AI_ARRIVAL_S": "0", "REQUEST_TIMEOUT": f"{svc.inference_timeout_s + 5:g}s",
            "READ_AFTER_S": f"{load.read_after_s:g}", "READ_S": f"{load.duration_s - load.read_after_s:g}",
            "AI_TEXTS": str(ctx.texts_file or ""),
        },
    )
    samples = read_samples(Path(record["samples_file"]), "api")
    ctx.words_sent.extend(samples.text_words)
    return samples


def window_bounds(samples: Samples, skip_s: float, length_s: float) -> tuple[float, float]:
    start = (samples.first_start_s or 0.0) + skip_s
    return start, start + length_s


def stable_from(counts: list[int], window_s: float, tolerance: float) -> int | None:
    """The first window from which every consecutive pair agrees: rates within the tolerance, or not told apart."""

    def agree(a: int, b: int) -> bool:
        ratio = intervals.rate_ratio(b, window_s, a, window_s)
        if ratio.estimate is None:
            return False
        if abs(ratio.estimate - 1.0) <= tolerance:
            return True
        return ratio.low is not None and ratio.high is not None and ratio.low <= 1.0 <= ratio.high

    for first in range(len(counts) - 1):
        if all(agree(counts[i], counts[i + 1]) for i in range(first, len(counts) - 1)):
            return first
    return None


def ai_capacity(ctx: RunContext, running: RunningConfig, crud_rate: float, windows: int | None = None,
                label: str = "ai-capacity") -> AICapacity:
    """AI answers per second at the knee: every AI place busy (closed-loop clients, twice the places), beside the
    reads every arm carries (crud_rate), so the arms' AI is offered in multiples of what the service can serve there.

    In a closed loop the mean latency follows from the clients and the throughput (Little's law), so the windows
    are judged on throughput; the per-window median latency is recorded beside it."""
    plan = ctx.config.plan
    clients = plan.capacity_clients or 2 * ai_places(ctx.config.services)
    windows = windows or plan.capacity_max_windows
    ctx.say(f"{running.framework}/{running.mode}", f"{label}: {clients} closed-loop AI clients beside reads at "
            f"{crud_rate:g}/s, {windows} windows of {plan.capacity_window_s:g}s")
    samples = run_load(ctx, running, label, Load(duration_s=plan.warmup_s + windows * plan.capacity_window_s,
                                                 ai_clients=clients, crud_rate=crud_rate))
    start, _ = window_bounds(samples, plan.warmup_s, 0)
    answers = [r for r in requests_of(samples, "ai") if r.status == "200"]
    counts, medians = [], []
    for index in range(windows):
        low, high = start + index * plan.capacity_window_s, start + (index + 1) * plan.capacity_window_s
        inside = [r.ms for r in answers if low <= r.ended_s < high]
        counts.append(len(inside))
        medians.append(intervals.quantile(inside, 0.5).estimate)
    first = stable_from(counts, plan.capacity_window_s, plan.stability_tolerance)
    used = counts[first:] if first is not None else counts[-2:]
    found = AICapacity(clients=clients, window_s=plan.capacity_window_s, answers_per_window=counts,
                       latency_p50_ms_per_window=medians, stable=first is not None,
                       rps=intervals.per_second(sum(used), len(used) * plan.capacity_window_s))
    ctx.say(f"{running.framework}/{running.mode}",
            f"{label} {found.rps.text(2, '/s')} (answers per window {counts}, stable: {found.stable})")
    return found


def scheduled(rate: float, window_s: float) -> int:
    """Arrivals k6's constant-arrival-rate starts in the window: one at 0, then every 1/rate s."""
    return math.ceil(rate * window_s - 1e-9) if rate > 0 else 0


def crud_outcome(samples: Samples, rate: float, window_s: float, cutoff_s: float) -> CrudOutcome:
    reads = requests_of(samples, "crud")
    offered = max(scheduled(rate, window_s), len(reads))
    unanswered = offered - len(reads)
    cutoff_ms = (window_s + cutoff_s) * 1000
    latencies = [r.ms for r in reads]
    return CrudOutcome(
        offered=offered, answered=len(reads), non_200=sum(r.status != "200" for r in reads),
        p50_ms=intervals.quantile_with_unanswered(latencies, unanswered, cutoff_ms, 0.50),
        p99_ms=intervals.quantile_with_unanswered(latencies, unanswered, cutoff_ms, 0.99),
    )


def ai_outcome(samples: Samples, rate: float, window_s: float, slo: SloConfig) -> AIOutcome:
    asked = requests_of(samples, "ai")
    offered = max(scheduled(rate, window_s), len(asked))
    mix: dict[str, int] = {}
    for r in asked:
        mix[r.status] = mix.get(r.status, 0) + 1
    if offered > len(asked):
        mix["unanswered"] = offered - len(asked)
    _, window_end = window_bounds(samples, 0, window_s)
    answers = [r for r in asked if r.status == "200"]
    in_time = [r for r in answers if r.ms <= slo.ai_answer_ms and r.ended_s <= window_end]
    refusals = [r.ms for r in asked if r.status in REFUSALS]
    return AIOutcome(
        offered=offered, status_mix=dict(sorted(mix.items())),
        goodput_rps=intervals.per_second(len(in_time), window_s),
        answer_p50_ms=intervals.quantile([r.ms for r in answers], 0.5) if answers else None,
        refusal_p99_ms=intervals.quantile(refusals, 0.99) if refusals else None,
    )


def arm_seconds(plan: PlanConfig, crud_rate: float, refused_rps: float = 0.0, alone: bool = False) -> float:
    """Long enough for the planned reads at this rate and the planned refusals, within min_arm_s and max_arm_s."""
    needed = [plan.min_arm_s, (plan.alone_samples if alone else plan.crud_samples) / crud_rate]
    if refused_rps > 0:
        needed.append(plan.refusal_samples / refused_rps)
    return min(plan.max_arm_s, max(needed))


def expected_refusals_rps(guard: str, multiple: float, capacity_rps: float) -> float:
    """Past capacity the guard refuses what the service cannot serve; without it nothing is refused by design."""
    return (multiple - 1) * capacity_rps if guard == "on" and multiple > 1 else 0.0


def run_arm(ctx: RunContext, running: RunningConfig, guard: str, multiple: float, crud_rate: float,
            capacity_rps: float) -> LoadArm:
    plan = ctx.config.plan
    window_s = arm_seconds(plan, crud_rate, expected_refusals_rps(guard, multiple, capacity_rps), alone=multiple == 0)
    ai_rate = multiple * capacity_rps
    lead_s = plan.ai_lead_s if ai_rate else 0.0
    label = "alone" if multiple == 0 else f"ai-{multiple:g}x-guard-{guard}"
    ctx.say(f"{running.framework}/{running.mode}",
            f"{label}: reads {crud_rate:.1f}/s" + (f" beside AI {ai_rate:.2f}/s" if ai_rate else "") + f", {window_s:.1f}s")
    sampler = TreeSampler(running.roots(), interval_s=1.0, cpus=ctx.service_cpus or ()).start()
    try:
        samples = run_load(ctx, running, label, Load(duration_s=lead_s + window_s, crud_rate=crud_rate, ai_rate=ai_rate,
                                                     read_after_s=lead_s))
    finally:
        server = sampler.stop()
    arm = LoadArm(guard=guard, ai_multiple=multiple, ai_offered_rps=ai_rate, crud_offered_rps=crud_rate,
                  window_s=window_s, ai_lead_s=lead_s, crud=crud_outcome(samples, crud_rate, window_s, plan.cutoff_s),
                  ai=ai_outcome(samples, ai_rate, lead_s + window_s, ctx.config.slo) if ai_rate else None,
                  server=server)
    said = f"CRUD p99 {arm.crud.p99_ms.text(1, ' ms')}"
    if arm.ai:
        said += f"; AI {arm.ai.status_mix}, goodput {arm.ai.goodput_rps.text(2, '/s')}"
    ctx.say(f"{running.framework}/{running.mode}", f"{label}: {said}")
    return arm


_IN_PROGRESS = re.compile(r'^http_requests_in_progress\{[^}]*route="(/ai/[^"]*)"[^}]*\}\s+(\S+)', re.MULTILINE)
_QUEUED = re.compile(r"^inference_queue_depth\{[^}]*\}\s+(\S+)", re.MULTILINE)


def ai_in_flight(running: RunningConfig) -> float:
    """AI requests the API is handling plus texts queued in the inference service, from their /metrics."""
    total = 0.0
    try:
        total += sum(float(v) for _, v in _IN_PROGRESS.findall(httpx.get(f"{running.base_url}/metrics", timeout=5).text))
        if "inference_metrics" in running.ports:
            text = httpx.get(f"http://127.0.0.1:{running.ports['inference_metrics']}/metrics", timeout=5).text
            total += sum(float(v) for v in _QUEUED.findall(text))
    except httpx.HTTPError:
        return float("nan")
    return total


def drain(ctx: RunContext, running: RunningConfig) -> None:
    """Wait until the last arm's AI work has left the service, so the next arm starts on an idle one."""
    deadline = time.monotonic() + ctx.config.plan.drain_timeout_s
    while time.monotonic() < deadline:
        if ai_in_flight(running) == 0:
            return
        time.sleep(0.25)
    raise DrainTimeout(f"{running.framework}/{running.mode}: AI still in flight {ctx.config.plan.drain_timeout_s:g}s "
                       "after the arm ended")


class DrainTimeout(RuntimeError):
    """The service did not go idle between two arms: the next arm would have inherited its queue."""


def memory_of(pid: int) -> Memory:
    reading = snapshot(pid)
    return Memory(pss_mib=reading["pss_mib"], uss_mib=reading["uss_mib"], rss_mib=reading["rss_mib"],
                  processes=int(reading["processes"]))


def ready_detail(running: RunningConfig) -> dict:
    try:
        return httpx.get(f"{running.base_url}/ready", timeout=5.0).json()
    except (httpx.HTTPError, ValueError):
        return {}


def measure_config(ctx: RunContext, record: ConfigResult, crud: CrudCapacity) -> None:
    """Fill one AI config's record in place (so a failure half-way keeps what was measured); crud is the
    framework's CRUD capacity with AI off (bench/rotation.py), which sets the arms' read rate."""
    framework, mode = record.framework, record.mode
    plan = ctx.config.plan
    where = f"{framework}/{mode}"
    record.crud_rate = round(plan.crud_fraction * (crud.rps.estimate or 0.0), 1)
    if record.crud_rate <= 0:
        raise RuntimeError(f"{where}: no CRUD capacity to set the read rate from")
    running = ctx.start(framework, mode, guard="on")
    try:
        record.startup_s["on"] = round(running.startup_s, 2)
        record.models = ready_detail(running)
        record.idle_memory = {name: memory_of(pid) for name, pid in running.roots().items()}
        ctx.say(where, f"ready after {running.startup_s:.1f}s")
        record.ai_capacity = ai_capacity(ctx, running, record.crud_rate)
        capacity_rps = record.ai_capacity.rps.estimate or 0.0
        # The reads alone on this very service, models loaded and idle: what every AI arm is compared with.
        for multiple in (0.0, *plan.ai_multiples):
            drain(ctx, running)
            record.arms.append(run_arm(ctx, running, "on", multiple, record.crud_rate, capacity_rps))
        if plan.capacity_recheck_windows:
            drain(ctx, running)
            record.ai_capacity_after = ai_capacity(ctx, running, record.crud_rate, plan.capacity_recheck_windows,
                                                   label="ai-capacity-after")
    finally:
        running.stop()
    if not plan.guard_off_multiples:
        return
    capacity_rps = naive_capacity_rps(record)
    # In process, the naive service also preloads its models before forking: its idle memory says what that saves.
    preload = {"PRELOAD_MODELS": "true"} if not catalog.needs_inference(mode) else None
    running = ctx.start(framework, mode, guard="off", api_env=preload, tag="-guard-off")
    try:
        record.startup_s["off"] = round(running.startup_s, 2)
        if preload:
            record.idle_memory["api_preloaded"] = memory_of(running.api.pid)
        for index, multiple in enumerate(sorted(plan.guard_off_multiples)):
            if index:
                drain(ctx, running)
            record.arms.append(run_arm(ctx, running, "off", multiple, record.crud_rate, capacity_rps))
    finally:
        # Past capacity without the guard the service holds a queue of AI work: stopping it is the drain.
        running.stop()


def naive_capacity_rps(record: ConfigResult) -> float:
    """What the naive service's arms are offered multiples of: the higher AI capacity reading.

    It is judged past capacity, and offered a multiple of the lower reading it may get about its capacity and cope:
    one run of a commit read 5.1 answers/s before the arms and 10.5 after them, and its naive service answered every
    read that the next run's, offered twice as much, left waiting."""
    readings = [c.rps.estimate for c in (record.ai_capacity, record.ai_capacity_after) if c is not None]
    return max((r for r in readings if r is not None), default=0.0)


def planned_seconds(plan: PlanConfig, first_crud_rate_guess: float = 150.0, ai_capacity_guess: float = 12.0,
                    startup_s: float = 10.0) -> float:
    """A rough schedule for the ETA: per AI config its start-ups, AI capacity and arms (k6 adds about 1.5 s to
    each run)."""
    def arm_s(guard: str = "on", multiple: float = 0.0) -> float:
        refused = expected_refusals_rps(guard, multiple, ai_capacity_guess)
        return arm_seconds(plan, first_crud_rate_guess, refused, alone=multiple == 0) + plan.cutoff_s + 1.5

    total = 0.0
    for _framework in plan.frameworks:
        for mode in filter(has_ai, plan.modes):
            total += startup_s + plan.warmup_s + plan.capacity_max_windows * plan.capacity_window_s + 1.5
            total += arm_s() + sum(arm_s("on", m) + plan.ai_lead_s + 1.0 for m in plan.ai_multiples)
            if plan.capacity_recheck_windows:
                total += plan.warmup_s + plan.capacity_recheck_windows * plan.capacity_window_s + 1.5
            if plan.guard_off_multiples:
                total += startup_s + sum(arm_s("off", m) + plan.ai_lead_s for m in plan.guard_off_multiples)
    return total
