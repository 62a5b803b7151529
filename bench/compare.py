"""`python -m bench compare A.json B.json`: every headline figure of two runs, marked only where the intervals separate."""

from __future__ import annotations

from typing import Any

from bench import stats
from bench.result_reader import ResultReader
from bench.intervals import Interval, order

# ResultReader compared, and whether a rise is good (throughput) or bad (latency, memory, errors).
COMPARED = {
    "throughput_rps": True,
    "p50_ms": False,
    "p99_ms": False,
    "crud_p50_ms": False,
    "crud_p99_ms": False,
    "ai_p99_ms": False,
    "error_rate": False,
    "total_pss_peak_mib": False,
    "cpu_ms_per_request": False,
}


def _rows(result: dict[str, Any]) -> dict[tuple[str, ...], tuple[float, Interval | None]]:
    rows: dict[tuple[str, ...], tuple[float, Interval | None]] = {}
    reader = ResultReader(result)
    for config in result["configs"]:
        fw, mode = config["framework"], config["mode"]
        for scenario, outcome in config["scenarios"].items():
            for figure in COMPARED:
                value = stats.value_of(outcome["aggregate"], figure)
                if value is not None:
                    rows[(fw, mode, scenario, figure)] = (value, stats.interval_of(outcome["aggregate"], figure))
        for scenario in config.get("saturation", {}):
            capacity = reader.capacity(fw, mode, scenario)
            if capacity is not None:
                rows[(fw, mode, scenario, "max_rate_within_slo")] = (capacity.estimate, capacity)
    batching = result.get("batching") or {}
    for variant, outcome in batching.get("variants", {}).items():
        value = stats.value_of(outcome["aggregate"], "goodput_rps")
        if value is not None:
            rows[(batching["framework"], "remote", f"batching:{variant}", "goodput_rps")] = (value, None)
    return rows


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per figure present in both results: values, intervals, relative change, and whether the intervals
    separate (only then is the change a change: the rest the two runs cannot tell apart)."""
    rows_a, rows_b = _rows(a), _rows(b)
    out = []
    for key in sorted(set(rows_a) & set(rows_b)):
        (before, iv_a), (after, iv_b) = rows_a[key], rows_b[key]
        change = (after - before) / before if before else (0.0 if after == before else float("inf"))
        higher_is_better = COMPARED.get(key[3], True)
        direction = order(iv_b, iv_a)
        out.append({
            "framework": key[0], "mode": key[1], "scenario": key[2], "figure": key[3],
            "a": before, "b": after, "a_interval": iv_a.to_dict() if iv_a else None,
            "b_interval": iv_b.to_dict() if iv_b else None, "change": change, "separated": direction != 0,
            "better": (direction > 0) == higher_is_better if direction else None,
        })
    return out


def _cell(value: float, interval: dict[str, Any] | None) -> str:
    if not interval:
        return f"{value:.4g} (no interval)"
    iv = Interval.from_dict(interval)
    low = f"{iv.low:.4g}" if iv.low is not None else "open"
    high = f"{iv.high:.4g}" if iv.high is not None else "open"
    return f"{value:.4g} [{low}, {high}]"


def format_table(rows: list[dict[str, Any]], a_name: str, b_name: str) -> str:
    lines = [f"Comparing A = {a_name}  with  B = {b_name}  (95 % intervals; only changes whose intervals separate are "
             "marked !, the rest the two runs cannot tell apart)", "",
             "| framework | mode | scenario | figure | A | B | change | |", "|---|---|---|---|---:|---:|---:|---|"]
    for row in rows:
        mark = ("! better" if row["better"] else "! worse") if row["separated"] else ""
        lines.append(f"| {row['framework']} | {row['mode']} | {row['scenario']} | {row['figure']} | "
                     f"{_cell(row['a'], row['a_interval'])} | {_cell(row['b'], row['b_interval'])} | "
                     f"{100 * row['change']:+.1f}% | {mark} |")
    if not rows:
        lines.append("| (no figure present in both results) | | | | | | | |")
    separated = sum(r["separated"] for r in rows)
    lines += ["", f"{len(rows)} figures compared, {separated} changed beyond their 95 % intervals; the other "
              f"{len(rows) - separated} cannot be told apart."]
    return "\n".join(lines)
