"""Reading figures out of a result document: the one place the report, claims and charts look numbers up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import catalog, intervals, stats
from bench.intervals import Interval

FRAMEWORK_ORDER = catalog.frameworks()
MODE_ORDER = catalog.modes()


def _in_order(present: set[str], order: tuple[str, ...]) -> list[str]:
    # Known names in their order, then any the catalog does not know (a result from another checkout): a figure
    # is never left out of the report for want of a listing.
    return [name for name in order if name in present] + sorted(present - set(order))


# Memory is sampled in every scenario; a config's memory is read from the AI mix, else from the first that has it.
MEMORY_SCENARIOS = ("ai_mixed", "crud", "ai_title", "ai_summarize", "ai_sentiment", "ai_tags")


def _first_measured(read: Callable[[str, str, str, str], Any], framework: str, mode: str, figure: str) -> Any:
    for scenario in MEMORY_SCENARIOS:
        found = read(framework, mode, scenario, figure)
        if found is not None:
            return found
    return None


class ResultReader:
    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result
        self.configs = {(c["framework"], c["mode"]): c for c in result["configs"]}
        self.frameworks = _in_order({framework for framework, _ in self.configs}, FRAMEWORK_ORDER)
        self.modes = _in_order({mode for _, mode in self.configs}, MODE_ORDER)

    def config(self, framework: str, mode: str) -> dict[str, Any] | None:
        return self.configs.get((framework, mode))

    def scenario(self, framework: str, mode: str, scenario: str) -> dict[str, Any] | None:
        config = self.config(framework, mode)
        return config["scenarios"].get(scenario) if config else None

    def get(self, framework: str, mode: str, scenario: str, figure: str) -> float | None:
        outcome = self.scenario(framework, mode, scenario)
        return stats.value_of(outcome["aggregate"], figure) if outcome else None

    def interval(self, framework: str, mode: str, scenario: str, figure: str) -> Interval | None:
        outcome = self.scenario(framework, mode, scenario)
        return stats.interval_of(outcome["aggregate"], figure) if outcome else None

    def with_interval(self, framework: str, mode: str, scenario: str, figure: str, digits: int = 1) -> str:
        """The figure with its 95 % interval and sample count, or the bare median where the run kept no samples."""
        found = self.interval(framework, mode, scenario, figure)
        if found is not None:
            return found.text(digits)
        value = self.get(framework, mode, scenario, figure)
        return fmt(value, digits) + (" (no interval)" if value is not None else "")

    def capacity(self, framework: str, mode: str, scenario: str) -> Interval | None:
        """The searched rate as a bracket: the best rate within the SLO up to the lowest failing rate above it."""
        config = self.config(framework, mode)
        found = (config or {}).get("saturation", {}).get(scenario)
        if not found or found.get("max_rate") is None:
            return None
        best = found["max_rate"]
        failing = [s["offered_rate"] for s in found["steps"] if not s.get("meets_slo") and s["offered_rate"] > best]
        return intervals.bracket(best, min(failing) if failing else None, len(found["steps"]))

    def memory_interval(self, framework: str, mode: str) -> Interval | None:
        """Peak PSS of the API's own process tree, over the trials of the first scenario that measured it."""
        return _first_measured(self.interval, framework, mode, "api_pss_peak_mib")

    def max_rate(self, framework: str, mode: str, scenario: str) -> float | None:
        config = self.config(framework, mode)
        found = (config or {}).get("saturation", {}).get(scenario)
        return found.get("max_rate") if found else None

    def rate_capped(self, framework: str, mode: str, scenario: str) -> bool:
        """True when the search never missed the SLO: the max rate is only a lower bound."""
        config = self.config(framework, mode)
        found = (config or {}).get("saturation", {}).get(scenario)
        return bool(found and found.get("capped"))

    def rate_text(self, framework: str, mode: str, scenario: str) -> str:
        value = self.max_rate(framework, mode, scenario)
        return ("≥ " if self.rate_capped(framework, mode, scenario) else "") + fmt(value)

    def rate_ratio(self, framework: str, mode: str, scenario: str) -> float | None:
        """Max rate relative to AI off; None when either is only a lower bound."""
        if self.rate_capped(framework, mode, scenario) or self.rate_capped(framework, "off", scenario):
            return None
        return ratio(self.max_rate(framework, mode, scenario), self.max_rate(framework, "off", scenario))

    def saturation_steps(self, framework: str, mode: str, scenario: str) -> list[dict[str, Any]]:
        config = self.config(framework, mode)
        found = (config or {}).get("saturation", {}).get(scenario)
        return sorted(found["steps"], key=lambda s: s["offered_rate"]) if found else []

    def memory(self, framework: str, mode: str) -> float | None:
        """Peak PSS of the whole system (API + inference service) under the AI mix, else under CRUD."""
        return _first_measured(self.get, framework, mode, "total_pss_peak_mib")

    def memory_parts(self, framework: str, mode: str) -> tuple[float | None, float | None]:
        for scenario in ("ai_mixed", "crud", "ai_title", "ai_summarize", "ai_sentiment", "ai_tags"):
            api = self.get(framework, mode, scenario, "api_pss_peak_mib")
            if api is not None:
                return api, self.get(framework, mode, scenario, "inference_pss_peak_mib")
        return None, None


def ratio(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base == 0:
        return None
    return value / base


def fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def fmt_bracket(value: Interval | None) -> str:
    if value is None or value.estimate is None:
        return "n/a"
    return f"[{value.low:g}, {value.high:g})" if value.high is not None else f"[{value.low:g}, open)"


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"
