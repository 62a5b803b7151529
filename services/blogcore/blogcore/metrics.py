"""Prometheus metrics shared by the three APIs: the metric objects, route-label normalisation and exposition.

Under gunicorn every worker writes its samples to PROMETHEUS_MULTIPROC_DIR (set by blogcore.gunicorn_conf
before prometheus_client is imported) and /metrics aggregates all workers' files, so whichever worker
answers a scrape reports the whole service. METRICS=off (APISettings.metrics) switches all of it off in one place:
no request or AI task is recorded, not even its route is resolved, and /metrics answers 404 `metrics_off`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from blogcore import contract, errors, http_rules
from blogcore.memory import ServiceMemoryCollector
from blogcore.settings import APISettings, MetricsSwitch

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"
METRICS_OFF_CODE = "metrics_off"

# Every path of openapi.yaml; a route label is always one of these or UNMATCHED, so label cardinality is bounded.
ROUTE_TEMPLATES = tuple(http_rules.ROUTE_METHODS)

# From sub-millisecond CRUD to generation on a busy CPU.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)

# prometheus_client chooses between in-process and per-worker file values when it is first imported. Whatever
# imported it before PROMETHEUS_MULTIPROC_DIR was set (any library, any start path), the metrics below must be
# built with the choice the environment makes now, or every worker keeps its samples to itself and /metrics
# shows no request series.
prometheus_values.ValueClass = prometheus_values.get_value_class()

# Samples live in this registry in single-process use; in multiprocess mode they are read back from files.
_REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered",
    ["framework", "route", "method", "status"],
    registry=_REGISTRY,
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from the framework receiving a request to its response being ready",
    ["framework", "route", "method", "status"],
    buckets=LATENCY_BUCKETS,
    registry=_REGISTRY,
)
HTTP_IN_PROGRESS = Gauge(
    "http_requests_in_progress",
    "HTTP requests being handled now",
    ["framework", "route", "method"],
    multiprocess_mode="livesum",
    registry=_REGISTRY,
)
AI_TASK_DURATION = Histogram(
    "ai_task_duration_seconds",
    "Time one AI task took as seen by the API, queueing and any remote call included",
    ["framework", "task", "mode", "outcome"],
    buckets=LATENCY_BUCKETS,
    registry=_REGISTRY,
)

# Werkzeug/Django "<int:post_id>" or "<post_id>", Starlette "{post_id:int}".
_ANGLE_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_BRACE_CONVERTER = re.compile(r"\{([^{}:]+):[^{}]+\}")
_TEMPLATE_PATTERNS = tuple(
    # The routers' own post_id pattern: a path no router matched (too many digits) is unmatched here too.
    (template, re.compile("^" + re.sub(r"\\\{[^}]+\\\}", contract.POST_ID_PATH_REGEX, re.escape(template)) + "$"))
    for template in ROUTE_TEMPLATES
)


def normalise_route(rule: str | None) -> str:
    """Turn a framework's route rule into its OpenAPI path template, or UNMATCHED when it is not one of ours."""
    if not rule:
        return UNMATCHED
    template = _BRACE_CONVERTER.sub(r"{\1}", _ANGLE_PARAM.sub(r"{\1}", rule))
    template = "/" + template.strip("^$").lstrip("/")
    return template if template in ROUTE_TEMPLATES else UNMATCHED


def route_for_path(path: str) -> str:
    """The template a concrete path falls under, for requests the framework did not route (e.g. 405 in Flask)."""
    for template, pattern in _TEMPLATE_PATTERNS:
        if pattern.match(path):
            return template
    return UNMATCHED


@dataclass
class _Service:
    framework: str = "unknown"
    inference_mode: str = "unknown"
    model_source: str = "unknown"
    model_profile: str = "unknown"
    recording: bool = True


_service = _Service()


def configure(framework: str, settings: APISettings) -> None:
    """Name this process's framework and configuration; called once by each app factory."""
    _service.framework = framework
    _service.inference_mode = str(settings.inference_mode)
    _service.model_source = str(settings.model_source)
    _service.model_profile = str(settings.model_profile)
    _service.recording = settings.metrics == MetricsSwitch.ON


def recording() -> bool:
    """Whether this process records metrics (METRICS=on)."""
    return _service.recording


@dataclass
class RequestTimer:
    """One request's metrics: in progress from creation until finish(), then counted and timed."""

    route: str
    method: str
    started: float = field(default_factory=time.perf_counter)
    finished: bool = False

    def __post_init__(self) -> None:
        HTTP_IN_PROGRESS.labels(_service.framework, self.route, self.method).inc()

    def finish(self, status: int) -> None:
        if self.finished:
            return
        self.finished = True
        elapsed = time.perf_counter() - self.started
        labels = (_service.framework, self.route, self.method, str(status))
        HTTP_REQUESTS.labels(*labels).inc()
        HTTP_DURATION.labels(*labels).observe(elapsed)
        HTTP_IN_PROGRESS.labels(_service.framework, self.route, self.method).dec()


class _Unrecorded:
    """The timer of a request when metrics are off: finishing it does nothing."""

    def finish(self, status: int) -> None:
        pass


UNRECORDED = _Unrecorded()


def start_request(route_of: Callable[[], str], method: str) -> RequestTimer | _Unrecorded:
    """Start timing one request; route_of resolves its route template, and is not even called when metrics are off."""
    if not _service.recording:
        return UNRECORDED
    # Arbitrary methods would make arbitrary label values; anything unusual is counted as OTHER.
    method = method.upper()
    if method not in {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"}:
        method = "OTHER"
    return RequestTimer(route_of(), method)


def observe_ai_task(task: str, mode: str, outcome: str, seconds: float) -> None:
    if not _service.recording:
        return
    AI_TASK_DURATION.labels(_service.framework, task, mode, outcome).observe(seconds)


class ServiceInfoCollector(Collector):
    """blog_service_info{framework,inference_mode,model_source,model_profile} 1, computed at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        info = GaugeMetricFamily(
            "blog_service_info",
            "Which framework and AI configuration this service runs",
            labels=["framework", "inference_mode", "model_source", "model_profile"],
        )
        info.add_metric(
            [_service.framework, _service.inference_mode, _service.model_source, _service.model_profile], 1
        )
        yield info


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR_ENV) or None


def render() -> tuple[bytes, str]:
    """The Prometheus text exposition of this service and its content type; NotFound when metrics are off."""
    if not _service.recording:
        raise errors.NotFound("metrics are off in this service (METRICS=off)", code=METRICS_OFF_CODE)
    if multiprocess_dir():
        # Every worker's samples, read from their files at scrape time, plus the whole-tree collectors.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(ServiceMemoryCollector())
        registry.register(ServiceInfoCollector())
    else:
        registry = _SINGLE_PROCESS_REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _SingleProcess(Collector):
    """This process's samples plus the service collectors, for runs without multiprocess mode (no gunicorn)."""

    def collect(self) -> Iterator:
        yield from _REGISTRY.collect()
        yield from ServiceMemoryCollector().collect()
        yield from ServiceInfoCollector().collect()


_SINGLE_PROCESS_REGISTRY = CollectorRegistry(auto_describe=False)
_SINGLE_PROCESS_REGISTRY.register(_SingleProcess())
