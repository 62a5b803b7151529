"""How steady the host's CPUs are: the same busy loop, slice after slice, on every CPU at once.

On a shared virtual machine a core's speed can swing by tens of percent within a second (neighbours on the same
host). No interval computed from one window's requests can show that, yet it moves figures measured minutes apart:
the run records it before and after measuring, and the report warns when it is large.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from collections.abc import Sequence

from bench.model import CpuSteadiness

# The slowest slice under this fraction of the median marks the host unsteady: swings this large moved the
# tail latencies of two runs of one commit by several times on the machine this project is developed on.
UNSTEADY_BELOW = 0.75


def _spin(cpu: int, seconds: float, slice_s: float, out: multiprocessing.Queue) -> None:
    os.sched_setaffinity(0, {cpu})
    counts: list[int] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        started, count = time.perf_counter(), 0
        while time.perf_counter() - started < slice_s:
            for _ in range(1000):
                count += 1
        counts.append(count)
    out.put((cpu, counts))


def summarize(cpu: int, counts: Sequence[int], slice_s: float) -> CpuSteadiness:
    """Work done per slice, relative to the median slice: the slowest, the 10th percentile and the fastest."""
    ordered = sorted(counts)
    median = statistics.median(ordered) or 1
    return CpuSteadiness(cpu=cpu, slices=len(ordered), slice_s=slice_s,
                         slowest=round(ordered[0] / median, 3),
                         p10=round(ordered[len(ordered) // 10] / median, 3),
                         fastest=round(ordered[-1] / median, 3))


def probe(cpus: Sequence[int], seconds: float = 8.0, slice_s: float = 0.25) -> list[CpuSteadiness]:
    """Spin on every CPU at once for this long (the services are not running yet, or any more)."""
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    workers = [context.Process(target=_spin, args=(cpu, seconds, slice_s, out), daemon=True) for cpu in cpus]
    for worker in workers:
        worker.start()
    try:
        results = dict(out.get(timeout=seconds + 30) for _ in workers)
    finally:
        # A worker that did not report must not outlive the probe and spin beside the measurements.
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.kill()
    return [summarize(cpu, results[cpu], slice_s) for cpu in sorted(results)]


def unsteady(readings: Sequence[CpuSteadiness]) -> list[CpuSteadiness]:
    return [r for r in readings if r.slowest < UNSTEADY_BELOW]


def text(readings: Sequence[CpuSteadiness]) -> str:
    return "; ".join(f"CPU {r.cpu}: slowest {r.slowest:.2f}, p10 {r.p10:.2f}, fastest {r.fastest:.2f} of the median "
                     f"({r.slices} slices of {r.slice_s:g} s)" for r in readings) or "not probed"
