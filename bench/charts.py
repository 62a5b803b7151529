"""PNG charts of a Run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bench.intervals import Interval  # noqa: E402
from bench.model import Run  # noqa: E402
from bench.verdicts import judging  # noqa: E402

GUARD_STYLES = {"on": "-", "off": "--"}
MEMORY_PARTS = (("api", "API"), ("api_preloaded", "API, PRELOAD_MODELS"), ("inference", "inference service"))


def _save(figure: Figure, path: Path) -> Path:
    """Lay out, write and free a figure (pyplot keeps every open figure alive otherwise)."""
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _error_bar(value: Interval) -> tuple[float, float]:
    """Distances to the bounds; an open side is drawn as no bar, not as a made-up bound."""
    low = value.estimate - value.low if value.low is not None else 0.0
    high = value.high - value.estimate if value.high is not None else 0.0
    return max(low, 0.0), max(high, 0.0)


def crud_p99_against_ai(run: Run, path: Path) -> Path | None:
    """CRUD p99 (log, 95 % interval as error bars) against the AI multiple: a line per framework x guard, a panel per mode."""
    modes = [m for m in run.modes if any(a.ai_multiple > 0 for c in run.configs if c.mode == m for a in c.arms)]
    if not modes:
        return None
    slo, _ = judging(run)
    figure, axes = plt.subplots(1, len(modes), figsize=(5.5 * len(modes), 4.2), sharey=True, squeeze=False)
    for ax, mode in zip(axes[0], modes):
        for config in (c for c in run.configs if c.mode == mode):
            colour = f"C{run.frameworks.index(config.framework) % 10}"  # one colour a framework, a style a guard
            for guard in ("on", "off"):
                arms = sorted((a for a in config.arms if a.guard == guard and a.crud.p99_ms.estimate is not None),
                              key=lambda a: a.ai_multiple)
                if not arms:
                    continue
                bars = list(zip(*(_error_bar(a.crud.p99_ms) for a in arms)))
                ax.errorbar([a.ai_multiple for a in arms], [a.crud.p99_ms.estimate for a in arms], yerr=bars,
                            color=colour, linestyle=GUARD_STYLES[guard], marker="o", capsize=3,
                            label=f"{config.framework}, guard {guard}")
        ax.axhline(slo.crud_p99_ms, color="black", linestyle=":", linewidth=1, label="CRUD p99 objective")
        ax.set_yscale("log")
        ax.set_title(mode)
        ax.set_xlabel("AI offered, x AI capacity (0 = CRUD alone)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("CRUD p99 (ms, log)")
    figure.suptitle("Reads beside AI at and past capacity (bars: 95 % interval)")
    return _save(figure, path)


def idle_memory(run: Run, path: Path) -> Path | None:
    """Idle PSS per config: the API, the API started with PRELOAD_MODELS, the inference service."""
    configs = [c for c in run.configs if c.idle_memory]
    if not configs:
        return None
    figure, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(configs)), 4))
    width = 0.8 / len(MEMORY_PARTS)
    for i, (part, label) in enumerate(MEMORY_PARTS):
        xs = [j + (i - 1) * width for j, c in enumerate(configs) if part in c.idle_memory]
        ys = [c.idle_memory[part].pss_mib for c in configs if part in c.idle_memory]
        if ys:
            bars = ax.bar(xs, ys, width, label=label)
            ax.bar_label(bars, labels=[f"{y:,.0f}" for y in ys], fontsize=7)
    ax.set_xticks(range(len(configs)), [f"{c.framework}\n{c.mode}" for c in configs], fontsize=8)
    ax.set_ylabel("idle PSS (MiB, one reading)")
    ax.set_title("Idle memory of each service's process tree")
    ax.margins(y=0.12)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(figure, path)
