"""Memory and CPU of a whole service, summed over its process tree.

prometheus_client's multiprocess mode exports no process metrics, and per-worker RSS counts pages shared
between forked workers once per worker; PSS splits shared pages fairly and USS counts only private ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

# Gunicorn's master exports its pid here before forking, so every worker can find the whole tree.
SERVICE_ROOT_PID_ENV = "BLOGCORE_SERVICE_ROOT_PID"


@dataclass(frozen=True)
class TreeUsage:
    processes: int
    rss_bytes: int
    pss_bytes: int
    uss_bytes: int
    cpu_seconds: float


def service_root_pid() -> int:
    return int(os.environ.get(SERVICE_ROOT_PID_ENV) or os.getpid())


def process_tree(root_pid: int) -> list[psutil.Process]:
    root = psutil.Process(root_pid)
    return [root, *root.children(recursive=True)]


def tree_usage(root_pid: int) -> TreeUsage:
    """Sum memory and CPU over root_pid and its descendants; processes that exit meanwhile are skipped."""
    count = rss = pss = uss = 0
    cpu = 0.0
    for proc in process_tree(root_pid):
        try:
            with proc.oneshot():
                mem = proc.memory_full_info()
                times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        count += 1
        rss += mem.rss
        # pss is Linux-only; elsewhere fall back to uss so the sum stays meaningful.
        pss += getattr(mem, "pss", mem.uss)
        uss += mem.uss
        cpu += times.user + times.system
    return TreeUsage(count, rss, pss, uss, cpu)


class ServiceMemoryCollector(Collector):
    """Exports service_memory_bytes{kind}, service_processes and service_cpu_seconds_total for one tree."""

    def __init__(self, root_pid: int | None = None) -> None:
        self._root_pid = root_pid

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        usage = tree_usage(self._root_pid or service_root_pid())
        memory = GaugeMetricFamily(
            "service_memory_bytes", "Memory of the whole service, summed over its processes", labels=["kind"]
        )
        memory.add_metric(["rss"], usage.rss_bytes)
        memory.add_metric(["pss"], usage.pss_bytes)
        memory.add_metric(["uss"], usage.uss_bytes)
        yield memory
        yield GaugeMetricFamily("service_processes", "Processes in the service's tree", value=usage.processes)
        yield CounterMetricFamily(
            "service_cpu_seconds", "CPU time of the service's live processes, user plus system", value=usage.cpu_seconds
        )
