"""`python -m bench compare A.json B.json`: relative change of every headline figure, big changes flagged."""

from __future__ import annotations

from typing import Any

from bench import stats

# Figures compared, and whether a rise is good (throughput) or bad (latency, memory, errors).
COMPARED = {
    "throughput_rps": True,
    "p50_ms": False,
    "p99_ms": False,
    "crud_p99_ms": False,
    "ai_p99_ms": False,
    "error_rate": False,
    "total_pss_peak_mib": False,
    "cpu_ms_per_request": False,
}
BIG_CHANGE = 0.10


def _rows(result: dict[str, Any]) -> dict[tuple[str, ...], float]:
    rows: dict[tuple[str, ...], float] = {}
    for config in result["configs"]:
        for scenario, outcome in config["scenarios"].items():
            for figure in COMPARED:
                value = stats.median_of(outcome["aggregate"], figure)
                if value is not None:
                    rows[(config["framework"], config["mode"], scenario, figure)] = value
        for scenario, found in config.get("saturation", {}).items():
            if found.get("max_rate") is not None:
                rows[(config["framework"], config["mode"], scenario, "max_rate_within_slo")] = found["max_rate"]
    batching = result.get("batching") or {}
    for variant, outcome in batching.get("variants", {}).items():
        value = stats.median_of(outcome["aggregate"], "goodput_rps")
        if value is not None:
            rows[(batching["framework"], "remote", f"batching:{variant}", "goodput_rps")] = value
    return rows


def compare(a: dict[str, Any], b: dict[str, Any], threshold: float = BIG_CHANGE) -> list[dict[str, Any]]:
    """One row per figure present in both results: values, relative change, and whether it is a big change."""
    rows_a, rows_b = _rows(a), _rows(b)
    out = []
    for key in sorted(set(rows_a) & set(rows_b)):
        before, after = rows_a[key], rows_b[key]
        change = (after - before) / before if before else (0.0 if after == before else float("inf"))
        higher_is_better = COMPARED.get(key[3], True)
        big = abs(change) > threshold
        out.append({
            "framework": key[0], "mode": key[1], "scenario": key[2], "figure": key[3],
            "a": before, "b": after, "change": change, "big": big,
            "better": (change > 0) == higher_is_better if change else None,
        })
    return out


def format_table(rows: list[dict[str, Any]], a_name: str, b_name: str) -> str:
    lines = [f"Comparing A = {a_name}  with  B = {b_name}  (changes over {100 * BIG_CHANGE:.0f}% flagged with !)", "",
             "| framework | mode | scenario | figure | A | B | change | |", "|---|---|---|---|---:|---:|---:|---|"]
    for row in rows:
        mark = ""
        if row["big"]:
            mark = "! better" if row["better"] else "! worse"
        lines.append(f"| {row['framework']} | {row['mode']} | {row['scenario']} | {row['figure']} | "
                     f"{row['a']:.4g} | {row['b']:.4g} | {100 * row['change']:+.1f}% | {mark} |")
    if not rows:
        lines.append("| (no figure present in both results) | | | | | | | |")
    big = sum(r["big"] for r in rows)
    lines += ["", f"{len(rows)} figures compared, {big} changed by more than {100 * BIG_CHANGE:.0f}%."]
    return "\n".join(lines)
