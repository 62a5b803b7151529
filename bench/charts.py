"""PNG charts of a result (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bench.result_reader import ResultReader  # noqa: E402

MODE_COLOURS = {"off": "#9e9e9e", "inprocess": "#e4572e", "remote": "#17bebb"}


def _save(figure: Figure, path: Path, rect: tuple[float, float, float, float] = (0, 0, 1, 1)) -> Path:
    """Lay out, write and free a figure (pyplot keeps every open figure alive otherwise)."""
    figure.tight_layout(rect=rect)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _label(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _grouped_bars(ax, reader: ResultReader, values, title: str, ylabel: str, log: bool = False) -> None:
    """Bars per framework, one per mode; values(framework, mode) -> number or None."""
    width = 0.8 / max(1, len(reader.modes))
    plotted = []
    for i, mode in enumerate(reader.modes):
        xs, ys = [], []
        for j, fw in enumerate(reader.frameworks):
            value = values(fw, mode)
            if value is not None:
                xs.append(j + (i - (len(reader.modes) - 1) / 2) * width)
                ys.append(value)
        bars = ax.bar(xs, ys, width, label=mode, color=MODE_COLOURS.get(mode))
        ax.bar_label(bars, labels=[_label(y) for y in ys], fontsize=7, padding=1)
        plotted += ys
    ax.set_xticks(range(len(reader.frameworks)), reader.frameworks)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    if log and plotted and min(plotted) > 0:
        ax.set_yscale("log")
    ax.margins(y=0.18)  # room for the value labels
    ax.grid(axis="y", alpha=0.3)


def ai_tax(reader: ResultReader, path: Path) -> Path | None:
    if not any(reader.scenario(f, m, "ai_mixed") for f in reader.frameworks for m in reader.modes):
        return None
    has_sat = any(reader.max_rate(f, m, "ai_mixed") is not None for f in reader.frameworks for m in reader.modes)
    panels = []
    if has_sat:
        panels.append((lambda f, m: reader.max_rate(f, m, "ai_mixed"), "Max ai_mixed rate within SLO (log)", "iterations/s", True))
    panels += [
        (lambda f, m: reader.get(f, m, "ai_mixed", "p99_ms"), "ai_mixed p99 at the fixed rate (log)", "ms", True),
        (lambda f, m: reader.get(f, m, "ai_mixed", "crud_p50_ms"), "CRUD p50 inside ai_mixed", "ms", False),
        (lambda f, m: reader.memory(f, m), "Peak PSS, API + inference", "MiB", False),
    ]
    figure, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2))
    for ax, (values, title, ylabel, log) in zip(axes, panels):
        _grouped_bars(ax, reader, values, title, ylabel, log)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper right", ncol=len(labels), fontsize=9)
    figure.suptitle("What AI does to each framework (grey = AI off)", x=0.3)
    return _save(figure, path, rect=(0, 0, 1, 0.93))


def interference(reader: ResultReader, path: Path) -> Path | None:
    labels, alone, mixed = [], [], []
    for mode in reader.modes:
        for fw in reader.frameworks:
            a = reader.get(fw, mode, "crud", "crud_p99_ms")
            b = reader.get(fw, mode, "ai_mixed", "crud_p99_ms")
            if a is None and b is None:
                continue
            labels.append(f"{fw}\n{mode}")
            alone.append(a or 0.0)
            mixed.append(b or 0.0)
    if not labels:
        return None
    figure, ax = plt.subplots(figsize=(max(6, 1.1 * len(labels)), 4))
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], alone, 0.4, label="crud scenario alone", color="#9e9e9e")
    bars = ax.bar([x + 0.2 for x in xs], mixed, 0.4, label="CRUD requests inside ai_mixed", color="#e4572e")
    ax.bar_label(bars, labels=[_label(v) for v in mixed], fontsize=7)
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_ylabel("CRUD p99 (ms)")
    ax.set_title("Interference: CRUD latency while AI requests are in flight")
    ax.margins(y=0.12)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def latency_vs_load(reader: ResultReader, path: Path, scenario: str = "ai_mixed") -> Path | None:
    if not any(reader.saturation_steps(f, m, scenario) for f in reader.frameworks for m in reader.modes):
        return None
    figure, axes = plt.subplots(1, len(reader.frameworks), figsize=(5 * len(reader.frameworks), 4), sharey=True, squeeze=False)
    for ax, fw in zip(axes[0], reader.frameworks):
        for mode in reader.modes:
            steps = reader.saturation_steps(fw, mode, scenario)
            points = [(s["offered_rate"], s["latency_ms"].get("all", {}).get("p99"), s["meets_slo"]) for s in steps]
            points = [p for p in points if p[1] is not None]
            if not points:
                continue
            colour = MODE_COLOURS.get(mode)
            ax.plot([p[0] for p in points], [p[1] for p in points], "-", color=colour, label=mode)
            ax.scatter([p[0] for p in points if p[2]], [p[1] for p in points if p[2]], color=colour, zorder=3)
            ax.scatter([p[0] for p in points if not p[2]], [p[1] for p in points if not p[2]], facecolors="none",
                       edgecolors=colour, zorder=3)
        limit = next((reader.config(fw, m)["saturation"][scenario]["p99_limit_ms"] for m in reader.modes
                      if reader.config(fw, m) and scenario in reader.config(fw, m).get("saturation", {})), None)
        if limit:
            ax.axhline(limit, color="black", linestyle=":", linewidth=1, label="p99 SLO")
        ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_title(fw)
        ax.set_xlabel(f"offered {scenario} rate (iterations/s, log)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("p99 latency (ms, log)")
    figure.suptitle("Latency vs offered load (filled = within SLO, hollow = not)")
    return _save(figure, path)


def memory(reader: ResultReader, path: Path) -> Path | None:
    labels, api, inf = [], [], []
    for mode in reader.modes:
        for fw in reader.frameworks:
            a, b = reader.memory_parts(fw, mode)
            if a is None:
                continue
            labels.append(f"{fw}\n{mode}")
            api.append(a)
            inf.append(b or 0.0)
    if not labels:
        return None
    figure, ax = plt.subplots(figsize=(max(6, 1.1 * len(labels)), 4))
    xs = list(range(len(labels)))
    ax.bar(xs, api, 0.6, label="API (all workers)", color="#4c72b0")
    bars = ax.bar(xs, inf, 0.6, bottom=api, label="inference service", color="#17bebb")
    ax.bar_label(bars, labels=[f"{a + b:,.0f}" for a, b in zip(api, inf)], fontsize=7)
    ax.set_xticks(xs, labels, fontsize=8)
    ax.set_ylabel("peak PSS (MiB)")
    ax.set_title("Server memory under load (PSS summed over each process tree)")
    ax.margins(y=0.12)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def batching(result: dict, path: Path) -> Path | None:
    from bench import stats

    bat = result.get("batching") or {}
    variants = bat.get("variants", {})
    if not variants:
        return None
    names = list(variants)
    goodput = [stats.median_of(variants[n]["aggregate"], "goodput_rps") or 0.0 for n in names]
    p99 = [stats.value_of(variants[n]["aggregate"], "ai_p99_ms") or 0.0 for n in names]
    figure, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    b1 = a1.bar(names, goodput, color=["#17bebb", "#9e9e9e"][: len(names)])
    a1.bar_label(b1, fmt="%.3g")
    a1.set_title(f"{bat.get('scenario')} served per second")
    a1.set_ylabel("successful requests/s")
    b2 = a2.bar(names, p99, color=["#17bebb", "#9e9e9e"][: len(names)])
    a2.bar_label(b2, fmt="%.4g")
    a2.set_title("AI p99 (ms)")
    figure.suptitle(f"Dynamic batching, remote mode, {bat.get('framework')} at {bat.get('rate')} it/s offered")
    return _save(figure, path)
