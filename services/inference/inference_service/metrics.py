"""Prometheus metrics of the inference service, on their own HTTP port."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from blogcore.memory import ServiceMemoryCollector

_BATCH_SIZE_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256)
_SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class InferenceMetrics:
    """Every series the service exports; one instance per registry so tests can build their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "inference_requests",
            "gRPC calls by task and final status code",
            ["task", "code"],
            registry=self.registry,
        )
        self.texts = Counter("inference_texts", "Texts received, by task", ["task"], registry=self.registry)
        self.queue_depth = Gauge(
            "inference_queue_depth", "Texts waiting for a batch, by task", ["task"], registry=self.registry
        )
        self.batch_size = Histogram(
            "inference_batch_size",
            "Texts per computed batch",
            ["task"],
            buckets=_BATCH_SIZE_BUCKETS,
            registry=self.registry,
        )
        self.queue_seconds = Histogram(
            "inference_queue_seconds",
            "Time a text waited in the queue before its batch formed",
            ["task"],
            buckets=_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.compute_seconds = Histogram(
            "inference_compute_seconds",
            "Model time per batch",
            ["task"],
            buckets=_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "inference_request_seconds",
            "Time from receiving a call to answering it, by task",
            ["task"],
            buckets=_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.ready = Gauge("inference_ready", "1 once the models are loaded and warmed up", registry=self.registry)
        self.registry.register(ServiceMemoryCollector())

    def observer(self, task: str) -> "TaskObserver":
        return TaskObserver(self, task)

    def serve(self, host: str, port: int) -> int:
        """Start the /metrics HTTP server in a daemon thread; returns the port it bound."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server.server_port


class TaskObserver:
    """The batcher's reports for one task, turned into metric updates."""

    def __init__(self, metrics: InferenceMetrics, task: str) -> None:
        self._depth = metrics.queue_depth.labels(task)
        self._batch_size = metrics.batch_size.labels(task)
        self._queue_seconds = metrics.queue_seconds.labels(task)
        self._compute_seconds = metrics.compute_seconds.labels(task)

    def queue_depth(self, depth: int) -> None:
        self._depth.set(depth)

    def batch_formed(self, size: int, queue_waits_s: Sequence[float]) -> None:
        for wait in queue_waits_s:
            self._queue_seconds.observe(wait)

    def batch_computed(self, size: int, compute_s: float) -> None:
        self._batch_size.observe(size)
        self._compute_seconds.observe(compute_s)
