"""Server-side measurements: memory and CPU of each service's whole process tree, sampled during a window.

Measured here with psutil on the service's own tree (the same sums blogcore.memory exports on /metrics), so the
client's memory is never counted and a scrape does not add requests to the window.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from blogcore.memory import tree_usage

MIB = 1024 * 1024


@dataclass
class TreeSeries:
    rss: list[int] = field(default_factory=list)
    pss: list[int] = field(default_factory=list)
    uss: list[int] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)
    cpu_first: float | None = None
    cpu_last: float | None = None

    def add(self, root_pid: int) -> None:
        usage = tree_usage(root_pid)
        self.rss.append(usage.rss_bytes)
        self.pss.append(usage.pss_bytes)
        self.uss.append(usage.uss_bytes)
        self.processes.append(usage.processes)
        if self.cpu_first is None:
            self.cpu_first = usage.cpu_seconds
        self.cpu_last = usage.cpu_seconds

    def summary(self, wall_s: float) -> dict[str, float]:
        if not self.rss:
            return {}
        cpu_s = max(0.0, (self.cpu_last or 0.0) - (self.cpu_first or 0.0))
        return {
            "rss_peak_mib": max(self.rss) / MIB,
            "pss_peak_mib": max(self.pss) / MIB,
            "uss_peak_mib": max(self.uss) / MIB,
            "rss_mean_mib": sum(self.rss) / len(self.rss) / MIB,
            "pss_mean_mib": sum(self.pss) / len(self.pss) / MIB,
            "uss_mean_mib": sum(self.uss) / len(self.uss) / MIB,
            "processes": max(self.processes),
            "cpu_s": cpu_s,
            # Share of one core used on average over the window (1.0 = one core busy all the time).
            "cpu_cores": cpu_s / wall_s if wall_s > 0 else 0.0,
            "samples": len(self.rss),
        }


def steal_ticks(cpus: tuple[int, ...]) -> int | None:
    """Clock ticks the hypervisor took from these CPUs since boot (/proc/stat's steal column); None off Linux."""
    try:
        lines = open("/proc/stat", encoding="ascii").read().splitlines()
    except OSError:
        return None
    wanted = {f"cpu{cpu}" for cpu in cpus}
    # cpuN user nice system idle iowait irq softirq steal ...
    return sum(int(line.split()[8]) for line in lines if line.split()[0] in wanted)


def snapshot(root_pid: int) -> dict[str, float]:
    """One reading of a tree's memory (MiB), e.g. idle after start-up."""
    usage = tree_usage(root_pid)
    return {"rss_mib": usage.rss_bytes / MIB, "pss_mib": usage.pss_bytes / MIB, "uss_mib": usage.uss_bytes / MIB,
            "processes": usage.processes, "cpu_s": usage.cpu_seconds}


class TreeSampler:
    """Samples named service trees every interval_s in a background thread between start() and stop()."""

    def __init__(self, roots: dict[str, int], interval_s: float = 1.0, cpus: tuple[int, ...] = ()) -> None:
        self._roots = roots
        # On a virtual machine the hypervisor may run someone else on these CPUs mid-window: the steal it
        # reports is recorded with the window, so a figure that moved can be read against it
        self._cpus = cpus
        self._steal_first: int | None = None
        self._interval = interval_s
        self._series = {name: TreeSeries() for name in roots}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)
        self._started = 0.0
        self._wall = 0.0

    def _sample(self) -> None:
        for name, pid in self._roots.items():
            try:
                self._series[name].add(pid)
            except Exception:  # a tree that vanished mid-window leaves a gap, not a crash
                continue

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def start(self) -> "TreeSampler":
        self._started = time.monotonic()
        self._steal_first = steal_ticks(self._cpus) if self._cpus else None
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> dict[str, dict[str, float]]:
        self._stop.set()
        self._thread.join(timeout=10)
        self._sample()
        self._wall = time.monotonic() - self._started
        result = {name: series.summary(self._wall) for name, series in self._series.items()}
        result = {name: stats for name, stats in result.items() if stats}
        if len(result) > 1:
            result["total"] = combine(result.values(), self._wall)
        elif result:
            result["total"] = dict(next(iter(result.values())))
        steal_last = steal_ticks(self._cpus) if self._steal_first is not None else None
        if steal_last is not None and self._wall > 0:
            steal_s = (steal_last - self._steal_first) / os.sysconf("SC_CLK_TCK")
            result["host"] = {"steal_s": steal_s, "steal_share": steal_s / (self._wall * len(self._cpus))}
        return result


def combine(parts, wall_s: float) -> dict[str, float]:
    """Whole-system figures: memory and CPU of the API and the inference service added up."""
    parts = list(parts)
    keys = [k for k in parts[0] if k.endswith("_mib") or k in ("cpu_s", "processes")]
    total = {k: sum(p.get(k, 0.0) for p in parts) for k in keys}
    total["cpu_cores"] = total["cpu_s"] / wall_s if wall_s > 0 else 0.0
    return total
