"""The run's result, typed: a Run holds its metadata, one ConfigResult per framework x mode and the compass figures.

A ConfigResult holds what that config measured: its CRUD capacity, its AI capacity, and its load arms (CRUD at a
fixed rate alone and beside AI offered at multiples of the AI capacity, the guard on and off). Every figure that
comes from requests is an Interval (estimate, 95 % bounds, n). The JSON schema of result.json is generated from
these classes (`python -m bench schema`), never written by hand.

Like pyperf's suites, two runs are only compared when what they measured is the same: `Run.comparable_with` names
every difference in the models, the settings, the plan or the machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.intervals import Interval, count_and_seconds, per_second, spanning

SCHEMA_VERSION = 2


class Record(BaseModel):
    # Unknown keys are an error: a result written by another version of the harness is refused, not misread.
    model_config = ConfigDict(extra="forbid")


class Machine(Record):
    cpu_model: str
    cpu_count: int
    memory_gib: float
    platform: str
    python: str


class Pinning(Record):
    service_cpus: list[int]
    k6_cpus: list[int]
    pinned: bool
    note: str

    @property
    def services(self) -> tuple[int, ...] | None:
        """The services' CPUs as process starters take them (None: unpinned)."""
        return tuple(self.service_cpus) or None

    @property
    def k6(self) -> tuple[int, ...] | None:
        return tuple(self.k6_cpus) or None


class CpuSteadiness(Record):
    """One CPU's speed over a short busy loop, per slice relative to its median slice (bench/steadiness.py)."""

    cpu: int
    slices: int
    slice_s: float
    slowest: float
    p10: float
    fastest: float


class Metadata(Record):
    git_commit: str
    git_dirty: bool
    machine: Machine
    packages: dict[str, str]
    k6_version: str
    pinning: Pinning
    profile: str
    # What was measured and how: bench/config.toml's [services] and [plan] after the profile was merged.
    services: dict[str, Any]
    plan: dict[str, Any]
    # The objectives and margins the verdicts are judged by: bench/config.toml's [slo] and [judgement]
    slo: dict[str, Any] = Field(default_factory=dict)
    judgement: dict[str, Any] = Field(default_factory=dict)
    # The request texts the AI routes carried: source, seed and the length distribution of what was sent.
    request_bodies: dict[str, Any]
    started_at: str
    ended_at: str | None = None
    wall_s: float = 0.0
    planned_s: float = 0.0
    load_average_at_start: list[float] = Field(default_factory=list)
    load_average_at_end: list[float] = Field(default_factory=list)
    # How steady the CPUs were just before and just after the measurements (empty when not probed)
    steadiness_at_start: list[CpuSteadiness] = Field(default_factory=list)
    steadiness_at_end: list[CpuSteadiness] = Field(default_factory=list)

    def comparable_key(self) -> dict[str, Any]:
        """Everything that must be equal for two runs' figures to be compared."""
        return {
            "machine": {"cpu_model": self.machine.cpu_model, "cpu_count": self.machine.cpu_count},
            "profile": self.profile,
            "services": self.services,
            "plan": self.plan,
            "slo": self.slo,
            "judgement": self.judgement,
            "pinning": {"service_cpus": self.pinning.service_cpus, "k6_cpus": self.pinning.k6_cpus},
        }


class Memory(Record):
    """One reading of a process tree (MiB): PSS shares pages among the processes that map them."""

    pss_mib: float
    uss_mib: float
    rss_mib: float
    processes: int


class CrudCapacity(Record):
    """Reads per second the API serves with closed-loop clients and no AI: what the CRUD rate is a fraction of."""

    clients: int
    # measured seconds in all, over this many interleaved slots (bench/rotation.py); rps's interval is over the slots
    window_s: float
    rps: Interval
    p50_ms: Interval
    slots: int = 1


class AICapacity(Record):
    """AI answers per second at the knee: closed-loop clients keep every AI place busy, beside the arms' reads.

    Measured in consecutive windows until two agree (their rate ratio's interval holds 1 and their median latencies
    are within the stability tolerance): the capacity is the rate over the agreeing windows."""

    clients: int
    window_s: float
    answers_per_window: list[int]
    latency_p50_ms_per_window: list[float | None]
    stable: bool
    rps: Interval


class CrudOutcome(Record):
    """The reads of one arm. A read not answered by the cut-off counts as slower than every answered one."""

    offered: int
    answered: int
    non_200: int
    # Over every read offered, unanswered ones included (so a starved service cannot look fast).
    p50_ms: Interval
    p99_ms: Interval


class AIOutcome(Record):
    offered: int
    # status -> count; "unanswered" for requests still in flight at the cut-off
    status_mix: dict[str, int]
    # 200s within the AI objective that ended inside the window, per second of window
    goodput_rps: Interval
    answer_p50_ms: Interval | None
    refusal_p99_ms: Interval | None


class LoadArm(Record):
    """CRUD at the config's fixed rate, alone (ai_multiple 0) or beside AI offered at ai_multiple x capacity."""

    guard: Literal["on", "off"]
    ai_multiple: float
    ai_offered_rps: float
    crud_offered_rps: float
    # The reads' window; the AI load starts ai_lead_s before it and runs to its end (goodput is over both)
    window_s: float
    ai_lead_s: float = 0.0
    crud: CrudOutcome
    ai: AIOutcome | None = None
    # Whole service (API + inference) during the window: peak PSS and CPU, from bench/serverstats.py
    server: dict[str, dict[str, float]] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        return "alone" if self.ai_multiple == 0 else f"{self.ai_multiple:g}x"


class ConfigResult(Record):
    framework: str
    mode: str
    # guard -> seconds until /ready answered 200
    startup_s: dict[str, float] = Field(default_factory=dict)
    # What /ready reported about the loaded models
    models: dict[str, Any] = Field(default_factory=dict)
    # service (api, inference) -> idle reading after start-up; api_preloaded: the API started with PRELOAD_MODELS
    idle_memory: dict[str, Memory] = Field(default_factory=dict)
    crud_capacity: CrudCapacity | None = None
    ai_capacity: AICapacity | None = None
    # The same measurement again right after the guarded arms (plan.capacity_recheck_windows)
    ai_capacity_after: AICapacity | None = None
    crud_rate: float | None = None
    arms: list[LoadArm] = Field(default_factory=list)
    failure: str | None = None

    def arm(self, guard: str, ai_multiple: float) -> LoadArm | None:
        return next((a for a in self.arms if a.guard == guard and a.ai_multiple == ai_multiple), None)

    def _capacity_readings(self) -> list[Interval]:
        return [c.rps for c in (self.ai_capacity, self.ai_capacity_after) if c is not None]

    def capacity_around_arms(self) -> Interval | None:
        """The AI capacity over the readings before and after the guarded arms, pooled (the one before alone
        when there was no recheck): what an arm's goodput is set against."""
        counted = [found for found in map(count_and_seconds, self._capacity_readings()) if found is not None]
        if not counted:
            return None
        return per_second(sum(n for n, _ in counted), sum(seconds for _, seconds in counted))

    def capacity_across_readings(self) -> Interval | None:
        """capacity_around_arms, its bounds widened to hold each reading's own interval: what a comparison between
        frameworks may rest on. Two minutes apart, one service read 14.9 answers/s [12.8, 17.3] and 9.4 [7.4, 11.8],
        and a lead taken from one reading held in one run and not in the next."""
        pooled = self.capacity_around_arms()
        readings = self._capacity_readings()
        if pooled is None or len(readings) < 2:
            return pooled
        return spanning(pooled, readings, "Poisson rate, both readings pooled; bounds span each reading's interval")


class Compass(Record):
    """The figures this project tracks over time (docs/benchmark.md says what each one means)."""

    # API in remote mode against the inference service's own batched throughput, same CPUs and task mix
    remote_efficiency: Interval | None = None
    inference_own_rps: Interval | None = None
    api_remote_rps: Interval | None = None
    grpc_hop_p50_ms: Interval | None = None
    # CRUD capacity without instrumentation over with it, per framework
    metrics_overhead: dict[str, Interval] = Field(default_factory=dict)
    # API tree PSS in remote mode over off mode, per framework
    memory_remote_vs_off: dict[str, float] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


class Failure(Record):
    where: str
    message: str


class Run(Record):
    schema_version: Literal[2] = SCHEMA_VERSION
    run_id: str
    interrupted: bool = False
    metadata: Metadata
    configs: list[ConfigResult] = Field(default_factory=list)
    compass: Compass | None = None
    failures: list[Failure] = Field(default_factory=list)

    def config(self, framework: str, mode: str) -> ConfigResult | None:
        return next((c for c in self.configs if c.framework == framework and c.mode == mode), None)

    @property
    def frameworks(self) -> list[str]:
        return list(dict.fromkeys(c.framework for c in self.configs))

    @property
    def modes(self) -> list[str]:
        return list(dict.fromkeys(c.mode for c in self.configs))

    def comparable_with(self, other: Run) -> list[str]:
        """What differs between the two runs' measurement conditions; empty when their figures may be compared."""
        mine, theirs = self.metadata.comparable_key(), other.metadata.comparable_key()
        return [f"{key}: {mine[key]!r} != {theirs[key]!r}" for key in mine if mine[key] != theirs[key]]


class NotAResult(ValueError):
    """The file is not a result this version of the harness can read."""


def save(run: Run, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(run.model_dump_json(indent=1), encoding="utf-8")
    tmp.replace(path)


def load(path: Path | str) -> Run:
    path = Path(path)
    try:
        return Run.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotAResult(f"result file {path} does not exist") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise NotAResult(f"{path} is not a benchmark result of schema {SCHEMA_VERSION}: {first['msg']} at "
                         f"{'.'.join(str(part) for part in first['loc'])}") from None


def json_schema() -> dict[str, Any]:
    return Run.model_json_schema()


def schema_text() -> str:
    return json.dumps(json_schema(), indent=1, sort_keys=True) + "\n"
