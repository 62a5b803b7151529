"""Saturation search: the highest offered rate whose window meets the SLO, in a few bounded steps.

Doubling from a start rate until a window fails, then bisection between the last pass and the first fail.
Every step is kept: the steps are also the latency-versus-offered-load curve.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.config import SloConfig


def slo_verdict(window: dict[str, Any], p99_limit_ms: float, slo: SloConfig) -> tuple[bool, str]:
    """Whether a window meets the SLO, and if not, why."""
    p99 = window.get("latency_ms", {}).get("all", {}).get("p99")
    reasons = []
    if p99 is None:
        reasons.append("no completed requests")
    elif p99 > p99_limit_ms:
        reasons.append(f"p99 {p99:.0f} ms > {p99_limit_ms:.0f} ms")
    if window.get("error_rate", 0.0) >= slo.max_error_rate:
        reasons.append(f"errors {100 * window['error_rate']:.1f}% >= {100 * slo.max_error_rate:.1f}%")
    if window.get("dropped_fraction", 0.0) > slo.max_dropped_fraction:
        reasons.append(f"dropped {100 * window['dropped_fraction']:.1f}% of iterations")
    if window.get("unfinished_fraction", 0.0) > slo.max_dropped_fraction:
        reasons.append(f"{100 * window['unfinished_fraction']:.1f}% of iterations unfinished at the end")
    return (not reasons, "; ".join(reasons) or "meets SLO")


def search(measure: Callable[[float], dict[str, Any]], *, start_rate: float, max_steps: int, max_rate: float,
           p99_limit_ms: float, slo: SloConfig) -> dict[str, Any]:
    """Run at most max_steps windows; returns {"steps": [...], "max_rate": best passing rate or None}."""
    steps: list[dict[str, Any]] = []
    best_pass: float | None = None
    first_fail: float | None = None
    rate = min(start_rate, max_rate)
    while len(steps) < max_steps:
        window = measure(rate)
        ok, why = slo_verdict(window, p99_limit_ms, slo)
        steps.append({**window, "offered_rate": rate, "meets_slo": ok, "verdict": why})
        if ok:
            best_pass = rate
        else:
            first_fail = rate
        if first_fail is None:
            if rate >= max_rate:
                break
            rate = min(rate * 2, max_rate)
        else:
            low = best_pass if best_pass is not None else 0.0
            next_rate = (low + first_fail) / 2
            # Stop bisecting once the interval is within 10% of the rate: more steps would measure noise.
            if first_fail - low <= 0.1 * first_fail or next_rate <= 0:
                break
            rate = round(next_rate, 3)
    return {
        "start_rate": start_rate,
        "p99_limit_ms": p99_limit_ms,
        "steps": steps,
        "max_rate": best_pass,
        "capped": first_fail is None,
    }
