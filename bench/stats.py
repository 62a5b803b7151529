"""Aggregating trials: median and spread of the figures the report uses, and the disagreement flag."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from bench import intervals
from bench.k6run import PERCENTILES, Samples, sample_intervals

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
# Figures whose interval comes from the trials' pooled per-request samples: (where in sample_intervals, key, stat).
POOLED = {
    **{f"{p}_ms": ("latency_ms", "all", p) for p in PERCENTILES},
    **{f"{kind}_{p}_ms": ("latency_ms", kind, p) for kind in ("crud", "ai") for p in PERCENTILES},
    "throughput_rps": ("rps", "all", None),
    "crud_rps": ("rps", "crud", None),
    "ai_rps": ("rps", "ai", None),
    "error_rate": ("error_rate", "all", None),
    "ai_error_rate": ("error_rate", "ai", None),
}
# Figures measured once per trial: their interval is over the trials.
PER_TRIAL = ("api_pss_peak_mib", "api_uss_peak_mib", "inference_pss_peak_mib", "total_pss_peak_mib",
             "total_uss_peak_mib", "total_cpu_cores", "cpu_ms_per_request")
# Trials that disagree on these by more than spread_flag make the config flagged.
SPREAD_CHECKED = ("throughput_rps", "p99_ms")


def dig(record: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = record
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, (int, float)) else None


def aggregate(trials: list[dict[str, Any]], spread_flag: float, samples: Sequence[Samples] | None = None) -> dict[str, Any]:
    """Median, min, max and relative spread ((max - min) / median) of every figure over the trials, and 95 %
    intervals: percentiles, rates and error rates from the trials' pooled requests (when samples are given),
    memory and CPU over the trials."""
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
    found: dict[str, Any] = {}
    if samples:
        pooled = Samples()
        for one in samples:
            pooled.extend(one)
        computed = sample_intervals(pooled, sum(t.get("duration_s", 0.0) for t in trials))
        for name, (section, key, stat) in POOLED.items():
            value = computed[section].get(key)
            if value is not None:
                found[name] = value[stat] if stat else value
        found_status = computed["status_mix"]
    else:
        found_status = None
    for name in PER_TRIAL:
        values = [v for v in (dig(t, FIGURES[name]) for t in trials) if v is not None]
        if values:
            found[name] = intervals.mean(values).to_dict()
    out = {"figures": figures, "trials": len(trials), "disagree": disagree, "flagged": bool(disagree), "intervals": found}
    if found_status is not None:
        out["status_mix"] = found_status
    return out


def interval_of(aggregate_record: dict[str, Any] | None, name: str) -> intervals.Interval | None:
    if not aggregate_record:
        return None
    return intervals.Interval.from_dict(aggregate_record.get("intervals", {}).get(name))


def value_of(aggregate_record: dict[str, Any] | None, name: str) -> float | None:
    """The figure the report shows: the interval's estimate (pooled over trials) where there is one, else the median."""
    found = interval_of(aggregate_record, name)
    if found is not None and found.estimate is not None:
        return found.estimate
    return median_of(aggregate_record, name)


def median_of(aggregate_record: dict[str, Any] | None, name: str) -> float | None:
    if not aggregate_record:
        return None
    figure = aggregate_record.get("figures", {}).get(name)
    return figure["median"] if figure else None
