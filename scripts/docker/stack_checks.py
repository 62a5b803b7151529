"""Checks the running stack through Prometheus's HTTP API, for scripts/stack_test.sh.

  stack_checks.py targets    [--prometheus URL] [--timeout S]   every scrape target up (waits up to --timeout)
  stack_checks.py dashboards [--prometheus URL] --since EPOCH    every Grafana panel query returns data
  stack_checks.py modes      --expect MODE URL...                 each API's /ready reports that inference mode

Standard library only, so it runs with any Python 3.11.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "grafana" / "dashboards"
HTTP_TIMEOUT_S = 10.0
# What Grafana substitutes at query time; a fixed, generous window here so a short load still shows.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "15m"}


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:
        return json.load(response)


def prometheus_api(base: str, path: str, params: dict[str, str] | None = None) -> dict:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    body = get_json(f"{base.rstrip('/')}/api/v1/{path}{query}")
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus {path}: {body}")
    return body["data"]


def check_targets(base: str, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        targets = prometheus_api(base, "targets", {"state": "active"})["activeTargets"]
        down = [t for t in targets if t["health"] != "up"]
        if targets and not down:
            for target in targets:
                print(f"  up   {target['labels']['job']:<11} {target['scrapeUrl']}")
            return 0
        if time.monotonic() >= deadline:
            for target in targets:
                print(f"  {target['health']:<4} {target['labels']['job']:<11} {target['scrapeUrl']} {target['lastError']}")
            print(f"FAIL: {len(down)} of {len(targets)} targets not up after {timeout_s:.0f}s")
            return 1
        time.sleep(2)


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard title, panel title, expr) for every target of every panel."""
    queries = []
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                queries.append((dashboard["title"], panel["title"], target["expr"]))
    return queries


def substitute(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def has_finite_sample(result: list[dict]) -> bool:
    return any(math.isfinite(float(value)) for series in result for _, value in series["values"])


def check_dashboards(base: str, since: float) -> int:
    queries = panel_queries()
    if not queries:
        print(f"FAIL: no panel queries found in {DASHBOARD_DIR}")
        return 1
    end = time.time()
    failures = 0
    for dashboard, panel, expr in queries:
        try:
            result = prometheus_api(
                base,
                "query_range",
                {"query": substitute(expr), "start": f"{since:.0f}", "end": f"{end:.0f}", "step": "15"},
            )["result"]
        except (urllib.error.URLError, RuntimeError) as error:
            result, problem = [], f"error: {error}"
        else:
            problem = "" if has_finite_sample(result) else "no data"
        status = "FAIL" if problem else "ok  "
        failures += bool(problem)
        print(f"  {status} {dashboard} / {panel}: {len(result)} series {problem}")
        if problem:
            print(f"       {substitute(expr)}")
    print(f"{len(queries) - failures} of {len(queries)} panel queries returned data")
    return 1 if failures else 0


def check_modes(expected: str, urls: list[str]) -> int:
    failures = 0
    for url in urls:
        try:
            mode = get_json(f"{url.rstrip('/')}/ready").get("inference_mode")
        except (urllib.error.URLError, ValueError) as error:
            mode = f"unreachable ({error})"
        ok = mode == expected
        failures += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {url} inference_mode={mode}")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("check", choices=["targets", "dashboards", "modes"])
    parser.add_argument("urls", nargs="*", help="API base URLs (modes)")
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--since", type=float, help="epoch seconds the load started (dashboards)")
    parser.add_argument("--expect", help="inference mode every API must report (modes)")
    args = parser.parse_intermixed_args(argv)
    if args.check == "targets":
        return check_targets(args.prometheus, args.timeout)
    if args.check == "dashboards":
        if args.since is None:
            parser.error("dashboards needs --since")
        return check_dashboards(args.prometheus, args.since)
    if not args.expect or not args.urls:
        parser.error("modes needs --expect and at least one URL")
    return check_modes(args.expect, args.urls)


if __name__ == "__main__":
    sys.exit(main())
