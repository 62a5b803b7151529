"""`python -m bench compare A B`: B's figures against A's, and whether the two runs give the same verdicts.

Like pyperf's compare_to, a change is only called one where it is significant: here where the 95 % intervals
separate by more than the [judgement] margin; the rest are "same within noise" and hidden unless --all. Two runs
are first checked to measure the same thing (Run.comparable_with); a verdict of "cannot tell" agrees only with
itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from bench import intervals
from bench.config import JudgementConfig
from bench.intervals import Interval
from bench.model import ConfigResult, LoadArm, Run
from bench.verdicts import Verdict, judging, verdicts

NOT_COMPARABLE = "not comparable"
SAME = "same within noise"


@dataclass(frozen=True)
class FigureRow:
    path: str
    a: Interval | None
    b: Interval | None
    mark: str


@dataclass(frozen=True)
class VerdictRow:
    key: str
    a: str | None
    b: str | None
    mark: str


@dataclass(frozen=True)
class Comparison:
    differences: list[str]
    figures: list[FigureRow]
    verdicts: list[VerdictRow]

    @property
    def differing(self) -> list[VerdictRow]:
        return [row for row in self.verdicts if row.a != row.b]


def _item_name(item: Any, index: int) -> str:
    if isinstance(item, ConfigResult):
        return f"{item.framework}/{item.mode}"
    if isinstance(item, LoadArm):
        return f"{item.guard}/{item.name}"
    return str(index)


def _walk(node: Any, path: str, out: dict[str, Interval]) -> None:
    if isinstance(node, Interval):
        out[path] = node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            _walk(getattr(node, name), f"{path}/{name}" if path else name, out)
    elif isinstance(node, dict):
        for key, value in node.items():
            _walk(value, f"{path}/{key}", out)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _walk(item, f"{path}/{_item_name(item, index)}", out)


def interval_figures(run: Run) -> dict[str, Interval]:
    """Every Interval in the run, named by a path that is the same in every run (configs/flask/off/...)."""
    out: dict[str, Interval] = {}
    _walk(run, "", out)
    return out


def margin_of(path: str, judgement: JudgementConfig) -> tuple[float, float]:
    """The ratio and the absolute floor a change of this figure must exceed: a latency's or a rate's."""
    return (judgement.latency_ratio, judgement.latency_floor_ms) if path.endswith("_ms") else (judgement.rate_ratio, 0.0)


def _figure_mark(a: Interval | None, b: Interval | None, margin: tuple[float, float]) -> str:
    if a is None or b is None:
        return "only in " + ("B" if a is None else "A")
    side = intervals.order_by_margin(b, a, *margin)
    return {1: "changed: higher", -1: "changed: lower", 0: SAME}[side]


def _verdict_mark(a: Verdict | None, b: Verdict | None) -> str:
    if a is None or b is None:
        return "DIFFER (only in " + ("B" if a is None else "A") + ")"
    return "agree" if a.state == b.state else "DIFFER"


def compare(a: Run, b: Run, force: bool = False) -> Comparison:
    """Figures and verdicts of B against A; with force, runs that are not comparable get every line marked so."""
    differences = a.comparable_with(b)
    if differences and not force:
        return Comparison(differences, [], [])
    slo, judgement = judging(a)
    figures_a, figures_b = interval_figures(a), interval_figures(b)
    figure_rows = []
    for path in list(figures_a) + [p for p in figures_b if p not in figures_a]:
        found_a, found_b = figures_a.get(path), figures_b.get(path)
        mark = NOT_COMPARABLE if differences else _figure_mark(found_a, found_b, margin_of(path, judgement))
        figure_rows.append(FigureRow(path, found_a, found_b, mark))
    told_a = {v.key: v for v in verdicts(a, judgement, slo)}
    told_b = {v.key: v for v in verdicts(b, judgement, slo)}
    verdict_rows = []
    for key in list(told_a) + [k for k in told_b if k not in told_a]:
        found_a, found_b = told_a.get(key), told_b.get(key)
        mark = NOT_COMPARABLE if differences else _verdict_mark(found_a, found_b)
        verdict_rows.append(VerdictRow(key, found_a.state if found_a else None, found_b.state if found_b else None,
                                       mark))
    return Comparison(differences, figure_rows, verdict_rows)


def _cell(value: Interval | None) -> str:
    return value.text(2) if value is not None else "—"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], markdown: bool) -> list[str]:
    if markdown:
        return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in [header, *rows]]


def summary(comparison: Comparison) -> str:
    total, differ = len(comparison.verdicts), len(comparison.differing)
    return f"{total} verdicts, all agree" if not differ else f"{differ} of {total} verdicts differ"


def format_comparison(comparison: Comparison, a_name: str, b_name: str, show_all: bool = False,
                      markdown: bool = False) -> str:
    heading = "## " if markdown else ""
    lines = [f"{heading}Comparing A = {a_name} with B = {b_name}", ""]
    if comparison.differences:
        lines += ["The two runs did not measure the same thing:", ""] + [f"- {d}" for d in comparison.differences]
        if not comparison.figures and not comparison.verdicts:
            return "\n".join(lines + ["", "Not compared (--force compares them anyway, every line marked "
                                          f"\"{NOT_COMPARABLE}\")."]) + "\n"
        lines.append("")
    shown = [r for r in comparison.figures if show_all or r.mark != SAME]
    hidden = len(comparison.figures) - len(shown)
    lines += [f"{heading}Figures (95 % intervals; changed only where they separate by more than the margin)", ""]
    lines += _table(("figure", "A", "B", ""), [(r.path, _cell(r.a), _cell(r.b), r.mark) for r in shown], markdown)
    if hidden:
        lines += ["", f"{hidden} of {len(comparison.figures)} figures the same within noise, not shown (--all shows them)."]
    lines += ["", f"{heading}Verdicts", ""]
    lines += _table(("verdict", "A", "B", ""), [(r.key, r.a or "—", r.b or "—", r.mark) for r in comparison.verdicts],
                    markdown)
    lines += ["", summary(comparison) + (f" (runs {NOT_COMPARABLE})" if comparison.differences else "") + "."]
    return "\n".join(lines) + "\n"
