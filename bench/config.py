"""The benchmark's configuration: a TOML file, validated into frozen dataclasses (profiles merged over the base)."""

from __future__ import annotations

import copy
import tomllib
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from bench import catalog
from blogcore.settings import APISettings

# Discovered (bench/catalog.py): the services' manifests and the k6 scripts, never a list kept here.
FRAMEWORKS = catalog.frameworks()
MODES = catalog.modes()
AI_SCENARIOS = catalog.ai_only_scenarios()
SCENARIOS = catalog.scenarios()
DEFAULT_CONFIG = Path(__file__).with_name("config.toml")


class ConfigError(ValueError):
    """The configuration file is unreadable or names something that does not exist."""


@dataclass(frozen=True)
class MatrixConfig:
    frameworks: tuple[str, ...]
    modes: tuple[str, ...]
    scenarios: tuple[str, ...]
    trials: int
    warmup_s: float
    window_s: float
    spread_flag: float
    seed_posts: int


@dataclass(frozen=True)
class SloConfig:
    p99_ms: dict[str, float]
    max_error_rate: float
    max_dropped_fraction: float


@dataclass(frozen=True)
class SaturationConfig:
    scenarios: tuple[str, ...]
    frameworks: tuple[str, ...]
    modes: tuple[str, ...]
    max_steps: int
    step_s: float
    max_rate: float
    start_rate: dict[str, float]
    start_rate_off: dict[str, float]

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
    enabled: bool
    framework: str
    scenario: str
    rate: float
    window_s: float
    grace_s: float
    trials: int
    unbatched_env: dict[str, str]


@dataclass(frozen=True)
class ServicesConfig:
    web_workers: int
    web_threads: int
    model_source: str
    model_profile: str
    summary_max_new_tokens: int
    title_max_new_tokens: int
    num_beams: int
    ai_max_concurrency: int
    ai_bulkhead: int
    ai_guard: str
    inference_timeout_s: float
    startup_timeout_s: float
    api_port: int
    inference_port: int
    inference_metrics_port: int
    api_env: dict[str, str]
    inference_env: dict[str, str]


@dataclass(frozen=True)
class PinningConfig:
    service_cpus: str | tuple[int, ...]
    k6_cpus: str | tuple[int, ...]


@dataclass(frozen=True)
class BenchConfig:
    matrix: MatrixConfig
    rates: dict[str, float]
    slo: SloConfig
    saturation: SaturationConfig
    batching: BatchingConfig
    services: ServicesConfig
    pinning: PinningConfig
    profile: str = "default"
    source: str = field(default="")

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


def _names(section: str, key: str, values: Any, allowed: tuple[str, ...], allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"[{section}] {key} must be a list of names")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ConfigError(f"[{section}] {key}: unknown {', '.join(unknown)} (known: {', '.join(allowed)})")
    if not values and not allow_empty:
        raise ConfigError(f"[{section}] {key} must not be empty")
    return tuple(values)


def _number(section: str, key: str, value: Any, minimum: float = 0, integer: bool = False) -> Any:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or value < minimum:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"[{section}] {key} must be {kind} >= {minimum}, got {value!r}")
    return value


def _rates(section: str, table: Any, needed: tuple[str, ...]) -> dict[str, float]:
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table of scenario = number")
    unknown = [k for k in table if k not in SCENARIOS]
    if unknown:
        raise ConfigError(f"[{section}] unknown scenario {', '.join(unknown)}")
    missing = [s for s in needed if s not in table]
    if missing:
        raise ConfigError(f"[{section}] has no value for {', '.join(missing)}")
    return {k: float(_number(section, k, v, minimum=0.001)) for k, v in table.items()}


def _env(section: str, key: str, table: Any) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] {key} must be a table of NAME = \"value\"")
    return {str(k): str(v) for k, v in table.items()}


def _cpus(key: str, value: Any) -> str | tuple[int, ...]:
    if value == "auto":
        return "auto"
    if isinstance(value, list) and value and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in value):
        return tuple(value)
    raise ConfigError(f"[pinning] {key} must be \"auto\" or a non-empty list of CPU numbers")


# The [services] keys the APIs read as well: their defaults, types, bounds and choices are APISettings' own.
API_SETTINGS = ("web_workers", "web_threads", "model_source", "model_profile", "summary_max_new_tokens",
                "title_max_new_tokens", "num_beams", "ai_max_concurrency", "ai_bulkhead", "ai_guard",
                "inference_timeout_s")


def _api_setting(svc: dict[str, Any], key: str) -> Any:
    field_info = APISettings.model_fields[key]
    value = svc.get(key, field_info.default)
    if isinstance(field_info.default, StrEnum):
        return _names("services", key, [str(value)], tuple(map(str, type(field_info.default))))[0]
    try:
        return TypeAdapter(Annotated[field_info.annotation, *field_info.metadata]).validate_python(value)
    except ValidationError as exc:
        raise ConfigError(f"[services] {key}: {exc.errors()[0]['msg']} (got {value!r})") from None


def parse_config(raw: dict[str, Any], profile: str = "default", source: str = "") -> BenchConfig:
    """Validate a parsed TOML document; profile 'quick' or 'full' merges [profiles.<name>] over the base first."""
    raw = dict(raw)
    profiles = raw.pop("profiles", {}) or {}
    if profile != "default":
        if profile not in profiles:
            raise ConfigError(f"no [profiles.{profile}] in the configuration")
        raw = deep_merge(raw, profiles[profile])
    try:
        m, sat, bat, svc, pin = raw["matrix"], raw["saturation"], raw["batching"], raw["services"], raw["pinning"]
        slo = raw["slo"]
        rates_table = raw["rates"]
    except KeyError as exc:
        raise ConfigError(f"missing section [{exc.args[0]}]") from None

    scenarios = _names("matrix", "scenarios", m.get("scenarios"), SCENARIOS)
    matrix = MatrixConfig(
        frameworks=_names("matrix", "frameworks", m.get("frameworks"), FRAMEWORKS),
        modes=_names("matrix", "modes", m.get("modes"), MODES),
        scenarios=scenarios,
        trials=_number("matrix", "trials", m.get("trials"), 1, integer=True),
        warmup_s=float(_number("matrix", "warmup_s", m.get("warmup_s"), 0)),
        window_s=float(_number("matrix", "window_s", m.get("window_s"), 1)),
        spread_flag=float(_number("matrix", "spread_flag", m.get("spread_flag", 0.10), 0)),
        seed_posts=_number("matrix", "seed_posts", m.get("seed_posts", 20), 1, integer=True),
    )
    sat_scenarios = _names("saturation", "scenarios", sat.get("scenarios", []), SCENARIOS, allow_empty=True)
    saturation = SaturationConfig(
        scenarios=sat_scenarios,
        frameworks=_names("saturation", "frameworks", sat.get("frameworks", list(FRAMEWORKS)), FRAMEWORKS, True),
        modes=_names("saturation", "modes", sat.get("modes", list(MODES)), MODES, True),
        max_steps=_number("saturation", "max_steps", sat.get("max_steps", 4), 1, integer=True),
        step_s=float(_number("saturation", "step_s", sat.get("step_s", 4), 1)),
        max_rate=float(_number("saturation", "max_rate", sat.get("max_rate", 2000), 0.001)),
        start_rate=_rates("saturation.start_rate", sat.get("start_rate", {}), sat_scenarios),
        start_rate_off=_rates("saturation.start_rate_off", sat.get("start_rate_off", {}), ()),
    )
    batching = BatchingConfig(
        enabled=bool(bat.get("enabled", False)),
        framework=_names("batching", "framework", [bat.get("framework", "fastapi")], FRAMEWORKS)[0],
        scenario=_names("batching", "scenario", [bat.get("scenario", "ai_title")], SCENARIOS)[0],
        rate=float(_number("batching", "rate", bat.get("rate", 4), 0.001)),
        window_s=float(_number("batching", "window_s", bat.get("window_s", 8), 1)),
        grace_s=float(_number("batching", "grace_s", bat.get("grace_s", 1), 0)),
        trials=_number("batching", "trials", bat.get("trials", 2), 1, integer=True),
        unbatched_env=_env("batching", "unbatched_env", bat.get("unbatched_env", {"BATCH_MAX_SIZE": "1"})),
    )
    services = ServicesConfig(
        **{key: _api_setting(svc, key) for key in API_SETTINGS},
        startup_timeout_s=float(_number("services", "startup_timeout_s", svc.get("startup_timeout_s", 240), 1)),
        api_port=_number("services", "api_port", svc.get("api_port", 0), 0, integer=True),
        inference_port=_number("services", "inference_port", svc.get("inference_port", 0), 0, integer=True),
        inference_metrics_port=_number("services", "inference_metrics_port", svc.get("inference_metrics_port", 0), 0, True),
        api_env=_env("services", "api_env", svc.get("api_env", {})),
        inference_env=_env("services", "inference_env", svc.get("inference_env", {})),
    )
    slo_config = SloConfig(
        p99_ms=_rates("slo.p99_ms", slo.get("p99_ms", {}), sat_scenarios),
        max_error_rate=float(_number("slo", "max_error_rate", slo.get("max_error_rate", 0.01), 0)),
        max_dropped_fraction=float(_number("slo", "max_dropped_fraction", slo.get("max_dropped_fraction", 0.01), 0)),
    )
    needed_rates = tuple(dict.fromkeys(scenarios))
    return BenchConfig(
        matrix=matrix,
        rates=_rates("rates", rates_table, needed_rates),
        slo=slo_config,
        saturation=saturation,
        batching=batching,
        services=services,
        pinning=PinningConfig(_cpus("service_cpus", pin.get("service_cpus", "auto")), _cpus("k6_cpus", pin.get("k6_cpus", "auto"))),
        profile=profile,
        source=source,
    )


def load_config(path: Path | str = DEFAULT_CONFIG, profile: str = "default") -> BenchConfig:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return parse_config(raw, profile=profile, source=str(path))
