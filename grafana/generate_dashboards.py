"""Writes the Grafana dashboards (grafana/dashboards/*.json) from the panel definitions below.

The JSON files are committed, so Grafana provisions them with no build step; edit this file and rerun
`python grafana/generate_dashboards.py` instead of editing the JSON. tests/stack checks the two agree, and the
CI stack test runs every panel's query against a live Prometheus after load.

The inference mode is not a scrape label (a static label cannot follow INFERENCE_MODE): series of the APIs are
joined with blog_service_info, which each API exports with the mode it really runs in (see prometheus.yml).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"

RATE = "[$__rate_interval]"
API = 'job="blog-api"'
# Probes and scrapes are not user traffic; they would dilute every latency and error figure.
USER_ROUTES = f'{API}, route!~"/health|/ready|/metrics"'
BY_FRAMEWORK_MODE = "framework, inference_mode"
FRAMEWORK_MODE_LEGEND = "{{framework}} · {{inference_mode}}"


def with_mode(expr: str) -> str:
    """Label each API series with the inference mode its service reports in blog_service_info."""
    return f"({expr}) * on(instance) group_left(inference_mode) blog_service_info"


def quantile(q: float, bucket_rate: str, by: str) -> str:
    return f"histogram_quantile({q}, sum by (le, {by}) ({bucket_rate}))"


@dataclass
class Target:
    expr: str
    legend: str


@dataclass
class Panel:
    title: str
    targets: list[Target]
    unit: str = "short"
    description: str = ""
    kind: str = "timeseries"
    width: int = 8
    height: int = 8
    extra_defaults: dict = field(default_factory=dict)


@dataclass
class Row:
    title: str
    panels: list[Panel]


def _api_latency(q: float) -> Panel:
    bucket_rate = with_mode(f"rate(http_request_duration_seconds_bucket{{{USER_ROUTES}}}{RATE})")
    return Panel(
        f"Latency p{round(q * 100)}",
        [Target(quantile(q, bucket_rate, BY_FRAMEWORK_MODE), FRAMEWORK_MODE_LEGEND)],
        unit="s",
        description=f"{q:.0%} of requests (all routes but probes and scrapes) finished within this time.",
    )


def frameworks_dashboard() -> tuple[str, str, list[Row]]:
    requests_rate = with_mode(f"rate(http_requests_total{{{USER_ROUTES}}}{RATE})")
    errors_rate = with_mode(f'rate(http_requests_total{{{USER_ROUTES}, status=~"5.."}}{RATE})')
    total = f"sum by ({BY_FRAMEWORK_MODE}) ({requests_rate})"
    # No 5xx at all means no 5xx series: fall back to 0 x traffic so the panel shows 0%, not "no data".
    errors = f"(sum by ({BY_FRAMEWORK_MODE}) ({errors_rate}) or {total} * 0)"
    ai_rate = f"rate(ai_task_duration_seconds_bucket{{{API}}}{RATE})"
    return (
        "blog-frameworks",
        "Blog APIs: frameworks side by side",
        [
            Row(
                "Traffic and errors",
                [
                    Panel("Requests per second", [Target(total, FRAMEWORK_MODE_LEGEND)], unit="reqps"),
                    Panel(
                        "Error rate (5xx share)",
                        [Target(f"{errors} / {total}", FRAMEWORK_MODE_LEGEND)],
                        unit="percentunit",
                        description="Server errors over all answered requests, probes excluded.",
                    ),
                    Panel(
                        "Requests in progress",
                        [
                            Target(
                                f"sum by ({BY_FRAMEWORK_MODE}) ({with_mode(f'http_requests_in_progress{{{API}}}')})",
                                FRAMEWORK_MODE_LEGEND,
                            )
                        ],
                    ),
                ],
            ),
            Row("Latency", [_api_latency(0.5), _api_latency(0.95), _api_latency(0.99)]),
            Row(
                "AI tasks as the API sees them",
                [
                    Panel(
                        "AI task latency p95",
                        [Target(quantile(0.95, ai_rate, "framework, mode, task"), "{{framework}} · {{mode}} · {{task}}")],
                        unit="s",
                        width=12,
                        description="Queueing and any remote call included.",
                    ),
                    Panel(
                        "AI tasks per second by outcome",
                        [
                            Target(
                                f"sum by (framework, mode, outcome) (rate(ai_task_duration_seconds_count{{{API}}}{RATE}))",
                                "{{framework}} · {{mode}} · {{outcome}}",
                            )
                        ],
                        unit="ops",
                        width=12,
                    ),
                ],
            ),
            Row(
                "Resources (whole service: gunicorn master and workers)",
                [
                    Panel(
                        "Memory",
                        [
                            Target(
                                with_mode(f"service_memory_bytes{{{API}}}"),
                                "{{framework}} · {{inference_mode}} · {{kind}}",
                            )
                        ],
                        unit="bytes",
                        width=12,
                        description="rss counts shared pages once per process; pss shares them out; uss is private.",
                    ),
                    Panel(
                        "CPU (cores busy)",
                        [Target(with_mode(f"rate(service_cpu_seconds_total{{{API}}}{RATE})"), FRAMEWORK_MODE_LEGEND)],
                        unit="short",
                        width=12,
                    ),
                ],
            ),
        ],
    )


def inference_dashboard() -> tuple[str, str, list[Row]]:
    def mean(metric: str) -> str:
        return (
            f"sum by (task) (rate({metric}_sum{RATE})) / sum by (task) (rate({metric}_count{RATE}))"
        )

    return (
        "blog-inference",
        "Inference service: dynamic batching",
        [
            Row(
                "Queue and batches",
                [
                    Panel("Queue depth", [Target("sum by (task) (inference_queue_depth)", "{{task}}")]),
                    Panel(
                        "Batch size",
                        [
                            Target(mean("inference_batch_size"), "mean {{task}}"),
                            Target(
                                quantile(0.95, f"rate(inference_batch_size_bucket{RATE})", "task"), "p95 {{task}}"
                            ),
                        ],
                    ),
                    Panel(
                        "Calls per second by status",
                        [Target(f"sum by (task, code) (rate(inference_requests_total{RATE}))", "{{task}} · {{code}}")],
                        unit="reqps",
                    ),
                ],
            ),
            Row(
                "Where the time goes",
                [
                    Panel(
                        "Queue time vs compute time (p95)",
                        [
                            Target(
                                quantile(0.95, f"rate(inference_queue_seconds_bucket{RATE})", "task"), "queue {{task}}"
                            ),
                            Target(
                                quantile(0.95, f"rate(inference_compute_seconds_bucket{RATE})", "task"),
                                "compute {{task}}",
                            ),
                        ],
                        unit="s",
                        width=12,
                        description="Queue: a text waiting for its batch. Compute: model time of one batch.",
                    ),
                    Panel(
                        "Queue time vs compute time (mean)",
                        [
                            Target(mean("inference_queue_seconds"), "queue {{task}}"),
                            Target(mean("inference_compute_seconds"), "compute {{task}}"),
                            Target(mean("inference_request_seconds"), "whole call {{task}}"),
                        ],
                        unit="s",
                        width=12,
                    ),
                ],
            ),
            Row(
                "Resources",
                [
                    Panel("Memory", [Target('service_memory_bytes{job="inference"}', "{{kind}}")], unit="bytes"),
                    Panel(
                        "CPU (cores busy)",
                        [Target(f'rate(service_cpu_seconds_total{{job="inference"}}{RATE})', "inference")],
                    ),
                    Panel("Models ready", [Target("inference_ready", "ready")]),
                ],
            ),
        ],
    )


def k6_dashboard() -> tuple[str, str, list[Row]]:
    # k6 tags become labels; the stack test adds --tag inference_mode=… so runs of both modes stay apart.
    legend = "{{scenario}} · {{inference_mode}}"
    return (
        "blog-k6",
        "k6 load (remote write)",
        [
            Row(
                "Load offered",
                [
                    Panel("Virtual users", [Target("sum by (inference_mode) (k6_vus)", "active · {{inference_mode}}")]),
                    Panel(
                        "Dropped iterations",
                        # k6 sends the counter only once something was dropped: none is a true 0.
                        [Target(f"sum by (scenario, inference_mode) (increase(k6_dropped_iterations_total{RATE}))"
                                " or on() vector(0)", legend)],
                        description="Iterations the arrival-rate executor could not start: the target fell behind.",
                    ),
                    Panel(
                        "Iterations per second",
                        [Target(f"sum by (scenario, inference_mode) (rate(k6_iterations_total{RATE}))", legend)],
                        unit="ops",
                    ),
                ],
            ),
            Row(
                "Responses seen by k6",
                [
                    Panel(
                        "Requests per second",
                        [Target(f"sum by (scenario, inference_mode) (rate(k6_http_reqs_total{RATE}))", legend)],
                        unit="reqps",
                    ),
                    Panel(
                        "Latency p95 by kind",
                        [
                            Target(
                                "max by (scenario, inference_mode, kind) (k6_http_req_duration_p95)",
                                "{{scenario}} · {{inference_mode}} · {{kind}}",
                            )
                        ],
                        unit="ms",
                    ),
                    Panel(
                        "Failed requests (share)",
                        [Target("avg by (scenario, inference_mode) (k6_http_req_failed_rate)", legend)],
                        unit="percentunit",
                    ),
                ],
            ),
        ],
    )


def render(uid: str, title: str, rows: list[Row]) -> dict:
    panels: list[dict] = []
    next_id = 1
    y = 0
    for row in rows:
        panels.append(
            {"id": next_id, "type": "row", "title": row.title, "collapsed": False, "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}
        )
        next_id += 1
        y += 1
        x = 0
        row_height = 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y = 0, y + row_height
                row_height = 0
            targets = [
                {"refId": chr(ord("A") + index), "datasource": DATASOURCE, "expr": target.expr,
                 "legendFormat": target.legend, "range": True}
                for index, target in enumerate(panel.targets)
            ]
            panels.append(
                {
                    "id": next_id,
                    "type": panel.kind,
                    "title": panel.title,
                    "description": panel.description,
                    "datasource": DATASOURCE,
                    "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
                    "targets": targets,
                    "fieldConfig": {
                        "defaults": {"unit": panel.unit, "custom": {"lineWidth": 1, "fillOpacity": 10}, **panel.extra_defaults},
                        "overrides": [],
                    },
                    "options": {
                        "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max", "lastNotNull"]},
                        "tooltip": {"mode": "multi", "sort": "desc"},
                    },
                }
            )
            next_id += 1
            x += panel.width
            row_height = max(row_height, panel.height)
        y += row_height
    return {
        "uid": uid,
        "title": title,
        "tags": ["blog-ai"],
        "timezone": "utc",
        "editable": False,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-30m", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def dashboards() -> dict[str, dict]:
    """File name -> dashboard JSON model, for every dashboard."""
    built = {}
    for make in (frameworks_dashboard, inference_dashboard, k6_dashboard):
        uid, title, rows = make()
        built[f"{uid}.json"] = render(uid, title, rows)
    return built


def serialise(dashboard: dict) -> str:
    return json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    DASHBOARD_DIR.mkdir(exist_ok=True)
    for name, dashboard in dashboards().items():
        (DASHBOARD_DIR / name).write_text(serialise(dashboard), encoding="utf-8")
        print(f"wrote {DASHBOARD_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
