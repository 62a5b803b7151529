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
AI_SCENARIOS = catalog.ai_only_scenarios()
SCENARIOS = catalog.scenarios()
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


def _one_of(allowed: tuple[str, ...]) -> AfterValidator:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"unknown {value} (known: {', '.join(allowed)})")
        return value

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
Fraction = Annotated[float, Field(strict=True, ge=0)]
Rate = Annotated[float, Field(strict=True, ge=0.001)]
Scenario = Annotated[str, _one_of(SCENARIOS)]
ScenarioRates = dict[Scenario, Rate]
# Environment values are strings; a TOML number is written as one.
EnvTable = dict[str, Annotated[str, BeforeValidator(str)]]
CpuChoice = Annotated[str | tuple[int, ...], PlainValidator(_cpus)]


def _covers(table: dict[str, float], section: str, needed: tuple[str, ...]) -> None:
    missing = [scenario for scenario in needed if scenario not in table]
    if missing:
        raise ValueError(f"[{section}] has no value for {', '.join(missing)}")


def _api_setting(name: str) -> Any:
    """A [services] key the APIs read as well: its default, type, bounds and choices are APISettings' own."""
    info = APISettings.model_fields[name]
    bounds = {key: getattr(rule, key) for rule in info.metadata for key in ("ge", "gt", "le", "lt") if hasattr(rule, key)}
    return Field(info.default, **bounds)


@dataclass(frozen=True)
class MatrixConfig:
    frameworks: Annotated[tuple[str, ...], _known(FRAMEWORKS)]
    modes: Annotated[tuple[str, ...], _known(MODES)]
    scenarios: Annotated[tuple[str, ...], _known(SCENARIOS)]
    trials: Count
    warmup_s: Seconds
    window_s: AtLeastOneSecond
    # Configs whose trials differ by more than this (max-min over median of throughput or p99) are flagged.
    spread_flag: Fraction = 0.10
    seed_posts: Count = 20


@dataclass(frozen=True)
class SloConfig:
    p99_ms: ScenarioRates = field(default_factory=dict)
    max_error_rate: Fraction = 0.01
    max_dropped_fraction: Fraction = 0.01


@dataclass(frozen=True)
class SaturationConfig:
    scenarios: Annotated[tuple[str, ...], _known(SCENARIOS, allow_empty=True)] = ()
    frameworks: Annotated[tuple[str, ...], _known(FRAMEWORKS, allow_empty=True)] = FRAMEWORKS
    modes: Annotated[tuple[str, ...], _known(MODES, allow_empty=True)] = MODES
    max_steps: Count = 4
    step_s: AtLeastOneSecond = 4
    max_rate: Rate = 2000
    start_rate: ScenarioRates = field(default_factory=dict)
    start_rate_off: ScenarioRates = field(default_factory=dict)

    def __post_init__(self) -> None:
        _covers(self.start_rate, "saturation.start_rate", self.scenarios)

    def start_for(self, scenario: str, mode: str) -> float:
        if mode == "off" and scenario in self.start_rate_off:
            return self.start_rate_off[scenario]
        return self.start_rate[scenario]

    def applies(self, framework: str, mode: str) -> tuple[str, ...]:
        if framework in self.frameworks and mode in self.modes:
            return self.scenarios
        return ()


@dataclass(frozen=True)
class BatchingConfig:
    enabled: bool = False
    framework: Annotated[str, _one_of(FRAMEWORKS)] = "fastapi"
    scenario: Scenario = "ai_title"
    rate: Rate = 4
    window_s: AtLeastOneSecond = 8
    grace_s: Seconds = 1
    trials: Count = 2
    unbatched_env: EnvTable = field(default_factory=lambda: {"BATCH_MAX_SIZE": "1"})


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
class PinningConfig:
    service_cpus: CpuChoice = "auto"
    k6_cpus: CpuChoice = "auto"


@dataclass(frozen=True)
class BenchConfig:
    matrix: MatrixConfig
    rates: ScenarioRates
    slo: SloConfig
    saturation: SaturationConfig
    batching: BatchingConfig
    services: ServicesConfig
    pinning: PinningConfig
    profile: str = "default"
    source: str = ""

    def __post_init__(self) -> None:
        _covers(self.rates, "rates", self.matrix.scenarios)
        _covers(self.slo.p99_ms, "slo.p99_ms", self.saturation.scenarios)

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
