"""The benchmark's configuration: a TOML file validated by the dataclasses below (profiles merged over the base).

Each key's type, bound and default is declared once, on its dataclass; the [services] keys the APIs read as well
take theirs from APISettings.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import asdict, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from bench import catalog
from blogcore.settings import AIGuard, APISettings, ModelProfile, ModelSource

# Discovered (bench/catalog.py): the services' manifests and the k6 scripts, never a list kept here.
FRAMEWORKS = catalog.frameworks()
MODES = catalog.modes()
DEFAULT_CONFIG = Path(__file__).with_name("config.toml")


class ConfigError(ValueError):
    """The configuration file is unreadable or names something that does not exist."""


def _known(allowed: tuple[str, ...], allow_empty: bool = False) -> AfterValidator:
    def check(values: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [value for value in values if value not in allowed]
        if unknown:
            raise ValueError(f"unknown {', '.join(unknown)} (known: {', '.join(allowed)})")
        if not values and not allow_empty:
            raise ValueError("must not be empty")
        return values

    return AfterValidator(check)


def _cpus(value: Any) -> str | tuple[int, ...]:
    if value == "auto":
        return "auto"
    if isinstance(value, list | tuple) and value and all(
        isinstance(cpu, int) and not isinstance(cpu, bool) and cpu >= 0 for cpu in value
    ):
        return tuple(value)
    raise ValueError('must be "auto" or a non-empty list of CPU numbers')


# Numbers are strict: a string or a boolean is an error, not something to coerce (an int is a fine float).
Count = Annotated[int, Field(strict=True, ge=1)]
Port = Annotated[int, Field(strict=True, ge=0)]  # 0: pick a free loopback port
Seconds = Annotated[float, Field(strict=True, ge=0)]
AtLeastOneSecond = Annotated[float, Field(strict=True, ge=1)]
# Environment values are strings; a TOML number is written as one.
EnvTable = dict[str, Annotated[str, BeforeValidator(str)]]
CpuChoice = Annotated[str | tuple[int, ...], PlainValidator(_cpus)]


def _api_setting(name: str) -> Any:
    """A [services] key the APIs read as well: its default, type, bounds and choices are APISettings' own."""
    info = APISettings.model_fields[name]
    bounds = {key: getattr(rule, key) for rule in info.metadata for key in ("ge", "gt", "le", "lt") if hasattr(rule, key)}
    return Field(info.default, **bounds)


AI_TASKS = ("title", "summarize", "sentiment", "tags")


@dataclass(frozen=True)
class PlanConfig:
    """The run's experiment: per framework x mode, CRUD capacity, AI capacity, then CRUD alone and beside AI."""

    # Every discovered service and mode unless named (bench/catalog.py); off first, so a framework's CRUD capacity
    # is measured with no AI loaded
    frameworks: Annotated[tuple[str, ...], _known(FRAMEWORKS)] = FRAMEWORKS
    modes: Annotated[tuple[str, ...], _known(MODES)] = MODES
    # CRUD capacity (bench/rotation.py): this many closed-loop readers visit every framework's AI-off service in turn,
    # this many rounds, each visit a warm-up and then crud_capacity_s measured
    crud_capacity_clients: Count = 16
    crud_capacity_rounds: Count = 4
    crud_slot_warmup_s: Seconds = 1
    crud_capacity_s: AtLeastOneSecond = 2
    # Every arm reads at this fraction of the framework's CRUD capacity
    crud_fraction: Annotated[float, Field(strict=True, gt=0, le=1)] = 0.2
    # ... for long enough to send this many reads (a p99 with both bounds needs 368, bench/intervals.py)
    crud_samples: Count = 1000
    # ... and in the arm with no AI, which every interference verdict compares with, this many: the upper bound of
    # its p99 is what decides those verdicts
    alone_samples: Count = 1500
    # ... and, past capacity with the guard on, long enough to expect this many refusals for their p99
    refusal_samples: Count = 500
    min_arm_s: AtLeastOneSecond = 10
    # ... and never longer than this: the planned counts follow rates read on a host whose speed swings, and one slow
    # capacity reading would stretch an arm (and the run) by half
    max_arm_s: AtLeastOneSecond = 60
    # AI offered beside the reads, as multiples of the config's AI capacity; the guard-off service gets its own list
    ai_multiples: tuple[Annotated[float, Field(strict=True, gt=0)], ...] = (0.5, 1.0, 3.0)
    guard_off_multiples: tuple[Annotated[float, Field(strict=True, gt=0)], ...] = (3.0,)
    ai_tasks: Annotated[tuple[str, ...], _known(AI_TASKS)] = AI_TASKS
    # AI capacity: closed-loop clients (0 = twice the service's AI places) in windows of capacity_window_s until
    # two consecutive ones agree, at most capacity_max_windows
    capacity_clients: Annotated[int, Field(strict=True, ge=0)] = 0
    capacity_window_s: AtLeastOneSecond = 6
    capacity_max_windows: Annotated[int, Field(strict=True, ge=2)] = 4
    # The same clients again right after the guarded arms (0 = not at all): the report sets an arm's goodput against
    # the capacity measured on both sides of it, so a host that changed speed in between moves both alike, and the
    # naive service is offered multiples of the higher reading
    capacity_recheck_windows: Annotated[int, Field(strict=True, ge=0)] = 2
    # Two windows agree when their rates cannot be told apart and their median latencies differ by at most this
    stability_tolerance: Annotated[float, Field(strict=True, gt=0)] = 0.10
    # AI arrivals start this long before the reads of an arm, so the reads meet the queue the AI load builds
    ai_lead_s: Seconds = 2
    warmup_s: Seconds = 3
    # After a window, requests still in flight get this long to end; then they count as unanswered
    cutoff_s: Seconds = 2
    # Between arms the service must be idle again (no AI in flight) within this many seconds
    drain_timeout_s: AtLeastOneSecond = 30
    seed_posts: Count = 20
    # Before and after measuring, every CPU runs a busy loop this long to record how steady the host is (0: never)
    steadiness_probe_s: Seconds = 8

    def __post_init__(self) -> None:
        if self.max_arm_s < self.min_arm_s:
            raise ValueError(f"max_arm_s ({self.max_arm_s:g}) is shorter than min_arm_s ({self.min_arm_s:g})")


@dataclass(frozen=True)
class SloConfig:
    """The objectives the run judges against: reads, AI answers (goodput counts only those in time), refusals."""

    crud_p99_ms: Annotated[float, Field(strict=True, gt=0)] = 250
    ai_answer_ms: Annotated[float, Field(strict=True, gt=0)] = 5000
    refusal_p99_ms: Annotated[float, Field(strict=True, gt=0)] = 50
    goodput_of_capacity: Annotated[float, Field(strict=True, gt=0, le=1)] = 0.8


@dataclass(frozen=True)
class JudgementConfig:
    """How far apart two figures must be, beyond their intervals, for the report to call one better.

    A verdict must not change between two runs of the same commit; differences smaller than these are called
    "the same within the margin" even when the intervals separate."""

    latency_ratio: Annotated[float, Field(strict=True, ge=1)] = 1.5
    # ... and two latencies must differ by more than this many ms as well
    latency_floor_ms: Annotated[float, Field(strict=True, ge=0)] = 25
    rate_ratio: Annotated[float, Field(strict=True, ge=1)] = 1.2
    memory_ratio: Annotated[float, Field(strict=True, ge=1)] = 1.05


@dataclass(frozen=True)
class ServicesConfig:
    web_workers: int = _api_setting("web_workers")
    web_threads: int = _api_setting("web_threads")
    model_source: ModelSource = _api_setting("model_source")
    model_profile: ModelProfile = _api_setting("model_profile")
    summary_max_new_tokens: int = _api_setting("summary_max_new_tokens")
    title_max_new_tokens: int = _api_setting("title_max_new_tokens")
    num_beams: int = _api_setting("num_beams")
    ai_max_concurrency: int = _api_setting("ai_max_concurrency")
    ai_bulkhead: int = _api_setting("ai_bulkhead")
    ai_guard: AIGuard = _api_setting("ai_guard")
    inference_timeout_s: float = _api_setting("inference_timeout_s")
    startup_timeout_s: AtLeastOneSecond = 240
    api_port: Port = 0
    inference_port: Port = 0
    inference_metrics_port: Port = 0
    api_env: EnvTable = field(default_factory=dict)
    inference_env: EnvTable = field(default_factory=dict)


@dataclass(frozen=True)
class CompassConfig:
    """The compass experiments (bench/compass.py): short measurements of the figures this project tracks."""

    enabled: Annotated[bool, Field(strict=True)] = True
    # The inference service's own throughput: closed-loop gRPC clients (its default batch size) for this long
    window_s: AtLeastOneSecond = 10
    clients: Count = 8
    warmup_s: Seconds = 3
    # The gRPC hop: paired in-process and remote calls with the tiny models
    hop_calls: Count = 120
    # These frameworks get a METRICS=off twin in the CRUD-capacity rotation: what the instrumentation costs
    metrics_overhead_frameworks: Annotated[tuple[str, ...], _known(FRAMEWORKS, allow_empty=True)] = FRAMEWORKS


@dataclass(frozen=True)
class PinningConfig:
    service_cpus: CpuChoice = "auto"
    k6_cpus: CpuChoice = "auto"


@dataclass(frozen=True)
class BenchConfig:
    plan: PlanConfig
    slo: SloConfig
    judgement: JudgementConfig
    services: ServicesConfig
    pinning: PinningConfig
    compass: CompassConfig = CompassConfig()
    profile: str = "default"
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _config_error(error: dict[str, Any]) -> ConfigError:
    """One line naming the section, the key, why and the value given."""
    loc = [str(part) for part in error["loc"] if part != "[key]"]
    why = str(error["msg"]).removeprefix("Value error, ")
    if len(loc) == 1 and error["type"] == "missing":
        return ConfigError(f"missing section [{loc[0]}]")
    if not loc or why.startswith("["):  # a check across keys names its own section
        return ConfigError(why)
    section, key = ".".join(loc[:-1]) or loc[0], loc[-1] if len(loc) > 1 else ""
    return ConfigError(f"[{section}] {key}: {why} (got {error['input']!r})" if key else f"[{section}] {why}")


def parse_config(raw: dict[str, Any], profile: str = "default", source: str = "") -> BenchConfig:
    """Validate a parsed TOML document; profile 'quick' or 'full' merges [profiles.<name>] over the base first."""
    raw = dict(raw)
    profiles = raw.pop("profiles", {}) or {}
    if profile != "default":
        if profile not in profiles:
            raise ConfigError(f"no [profiles.{profile}] in the configuration")
        raw = deep_merge(raw, profiles[profile])
    try:
        return TypeAdapter(BenchConfig).validate_python({**raw, "profile": profile, "source": source})
    except ValidationError as exc:
        raise _config_error(exc.errors()[0]) from None


def load_config(path: Path | str = DEFAULT_CONFIG, profile: str = "default") -> BenchConfig:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return parse_config(raw, profile=profile, source=str(path))
