"""Aggregating trials: median and spread of the figures the report uses, and the disagreement flag."""

from __future__ import annotations

import statistics
from typing import Any

# (name, path into a window record); the report and compare read these names.
FIGURES = {
    "throughput_rps": ("throughput_rps",),
    "goodput_rps": ("goodput_rps",),
    "crud_rps": ("crud_rps",),
    "ai_rps": ("ai_rps",),
    "error_rate": ("error_rate",),
    "dropped_fraction": ("dropped_fraction",),
    "unfinished_fraction": ("unfinished_fraction",),
    "p50_ms": ("latency_ms", "all", "p50"),
    "p90_ms": ("latency_ms", "all", "p90"),
    "p99_ms": ("latency_ms", "all", "p99"),
    "crud_p50_ms": ("latency_ms", "crud", "p50"),
    "crud_p99_ms": ("latency_ms", "crud", "p99"),
    "ai_p50_ms": ("latency_ms", "ai", "p50"),
    "ai_p99_ms": ("latency_ms", "ai", "p99"),
    "ai_error_rate": ("errors", "ai"),
    "api_pss_peak_mib": ("server", "api", "pss_peak_mib"),
    "api_uss_peak_mib": ("server", "api", "uss_peak_mib"),
    "api_rss_peak_mib": ("server", "api", "rss_peak_mib"),
    "inference_pss_peak_mib": ("server", "inference", "pss_peak_mib"),
    "total_pss_peak_mib": ("server", "total", "pss_peak_mib"),
    "total_uss_peak_mib": ("server", "total", "uss_peak_mib"),
    "total_rss_peak_mib": ("server", "total", "rss_peak_mib"),
    "total_cpu_cores": ("server", "total", "cpu_cores"),
    "cpu_ms_per_request": ("server", "total", "cpu_ms_per_request"),
}
# Trials that disagree on these by more than spread_flag make the config flagged.
SPREAD_CHECKED = ("throughput_rps", "p99_ms")


def dig(record: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = record
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, (int, float)) else None


def aggregate(trials: list[dict[str, Any]], spread_flag: float) -> dict[str, Any]:
    """Median, min, max and relative spread ((max - min) / median) of every figure over the trials."""
    figures: dict[str, Any] = {}
    for name, path in FIGURES.items():
        values = [v for v in (dig(t, path) for t in trials) if v is not None]
        if not values:
            continue
        median = statistics.median(values)
        spread = (max(values) - min(values)) / median if median else 0.0
        figures[name] = {"median": median, "min": min(values), "max": max(values), "spread": spread, "n": len(values)}
    disagree = [name for name in SPREAD_CHECKED if name in figures and figures[name]["n"] > 1
                and figures[name]["spread"] > spread_flag]
    return {"figures": figures, "trials": len(trials), "disagree": disagree, "flagged": bool(disagree)}


def median_of(aggregate_record: dict[str, Any] | None, name: str) -> float | None:
    if not aggregate_record:
        return None
    figure = aggregate_record.get("figures", {}).get(name)
    return figure["median"] if figure else None
