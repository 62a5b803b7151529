"""End to end: `python -m bench run` on a tiny matrix against the real Flask service, AI off: the CRUD rotation of the
service and its METRICS=off twin, a few seconds."""

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import psutil
import pytest

from bench.config import DEFAULT_CONFIG
from bench.processes import free_port

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not (REPO / "services" / "api-flask" / "start.sh").exists(), reason="no Flask service")


def tiny_config(tmp_path: Path, **plan) -> Path:
    """The default config cut down to Flask, AI off, two short rounds of the CRUD rotation."""
    raw = tomllib.loads(DEFAULT_CONFIG.read_text())
    plan = {"frameworks": ["flask"], "modes": ["off"], "crud_capacity_clients": 4, "crud_capacity_s": 1,
            "crud_capacity_rounds": 2, "crud_slot_warmup_s": 0.5, "crud_samples": 20, "alone_samples": 20, "refusal_samples": 20,
            "steadiness_probe_s": 0.5, "min_arm_s": 2, "warmup_s": 0.5, "cutoff_s": 1, **plan}
    lines = ["[plan]"] + [f"{k} = {json.dumps(v)}" for k, v in plan.items()]
    lines += ["[slo]", "[judgement]", "[compass]", "enabled = false", "[services]", "web_workers = 1", "web_threads = 2",
              f'model_source = "{raw["services"]["model_source"]}"', 'model_profile = "tiny"', "startup_timeout_s = 60",
              "[pinning]", 'service_cpus = "auto"', 'k6_cpus = "auto"']
    path = tmp_path / "tiny.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_bench(tmp_path: Path, config: Path, run_id: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "--config", str(config), "--out", str(tmp_path / "results"),
         "--reports", str(tmp_path / "reports"), "--run-id", run_id],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs,
    )


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_tiny_run_writes_a_valid_result_and_report(tmp_path):
    proc = run_bench(tmp_path, tiny_config(tmp_path), "smoke")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "left]" in out and "flask: CRUD capacity" in out
    from bench import model

    run = model.load(tmp_path / "results" / "smoke" / "result.json")
    config = run.config("flask", "off")
    capacity = config.crud_capacity
    assert capacity.slots == 2 and capacity.rps.n > 0 and capacity.rps.bounded and capacity.p50_ms.estimate > 0
    assert config.startup_s["on"] > 0 and config.idle_memory["api"].pss_mib > 0 and not config.arms
    assert run.metadata.ended_at and run.metadata.wall_s > 0 and not run.failures
    assert run.metadata.steadiness_at_start and run.metadata.steadiness_at_end
    assert (tmp_path / "reports" / "smoke" / "report.md").exists()
    assert (tmp_path / "results" / "smoke" / "services" / "flask-off" / "api.log").exists()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_ctrl_c_stops_everything_and_keeps_a_partial_result(tmp_path):
    # Started with SIGINT ignored, as `cmd &` from a script or nohup does (and as a test runner may itself run):
    # the benchmark must still stop on Ctrl-C, so it cannot rely on Python's default handler.
    proc = run_bench(tmp_path, tiny_config(tmp_path, crud_capacity_rounds=40), "interrupted", preexec_fn=_ignore_sigint)
    deadline = time.monotonic() + 90
    seen = ""
    for line in proc.stdout:
        seen += line
        if "in turn" in line:
            break
        assert time.monotonic() < deadline, seen
    assert "in turn" in seen, seen
    wait_until = time.monotonic() + 15
    while True:  # the progress line comes just before k6 is spawned
        started = descendants(proc.pid)
        names = " ".join(" ".join(p.cmdline()) for p in started)
        if "k6" in names or time.monotonic() > wait_until:
            break
        time.sleep(0.2)
    assert "gunicorn" in names and "k6" in names, names  # the service and k6 are both running mid-window
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, seen + out
    assert "interrupted: stopped" in out
    assert not alive(started), "processes left behind after Ctrl-C"
    result = json.loads((tmp_path / "results" / "interrupted" / "result.json").read_text())
    assert result["interrupted"] is True


def test_a_taken_port_is_a_clear_failure(tmp_path):
    import socket

    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        config = tiny_config(tmp_path)
        config.write_text(config.read_text().replace("web_workers = 1", f"web_workers = 1\napi_port = {port}"))
        proc = run_bench(tmp_path, config, "taken")
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, out
    assert f"port {port} for the flask API is already in use" in out
