"""The shared gunicorn config: several workers report as one service, preload works, bad config stops start-up."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from servers import FRAMEWORKS, REPO_ROOT, service_dir, start_api


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise AssertionError(f"{name}{labels} not exported")


@pytest.mark.parametrize("framework", ["flask", "fastapi"])
def test_workers_are_aggregated_and_preload_works(framework: str, tmp_path: Path) -> None:
    server = start_api(framework, {"INFERENCE_MODE": "off", "PRELOAD_MODELS": "true"}, tmp_path, workers=2)
    try:
        assert len(server.worker_pids()) == 2
        # start_api's own readiness probes were counted too
        baseline = _sample(httpx.get(server.url("/metrics")).text, "http_requests_total", route="/health")
        for _ in range(20):
            # a new connection each time, so both workers get some of them
            assert httpx.get(server.url("/health"), headers={"connection": "close"}).status_code == 200
        for _ in range(4):
            text = httpx.get(server.url("/metrics"), headers={"connection": "close"}).text
            # whichever worker answers, it reports the requests of both
            assert _sample(text, "http_requests_total", route="/health", status="200") == baseline + 20
            assert _sample(text, "service_processes") == 3  # master + 2 workers
            assert _sample(text, "http_requests_in_progress", route="/metrics") >= 1
        files = {p.name for p in (tmp_path / "metrics").glob("*.db")}
        assert any(str(pid) in name for pid in server.worker_pids() for name in files), files
    finally:
        server.stop()


def _series(text: str, name: str) -> list[dict[str, str]]:
    return [sample.labels for family in text_string_to_metric_families(text) for sample in family.samples
            if sample.name == name]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_started_as_the_readme_says_metrics_carry_request_and_ai_series(framework: str, tmp_path: Path) -> None:
    """No PROMETHEUS_MULTIPROC_DIR (the README sets none): the conf makes one, and traffic shows up in /metrics."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"INFERENCE_MODE": "off", "PROMETHEUS_MULTIPROC_DIR": None, "HOME": str(home), "XDG_RUNTIME_DIR": None}
    server = start_api(framework, env, tmp_path)
    try:
        made = [d for d in Path("/tmp").glob(f"blog-metrics-{server.base_url.rsplit(':', 1)[1]}-*")]
        assert len(made) == 1 and made[0].is_dir()
        created = httpx.post(server.url("/posts"), json={"title": "t", "body": "b"})
        assert created.status_code == 201
        assert httpx.get(server.url(f"/posts/{created.json()['id']}")).status_code == 200
        assert httpx.post(server.url("/ai/tags"), json={"text": "hello"}).status_code == 503
        text = httpx.get(server.url("/metrics")).text
        assert _sample(text, "http_requests_total", framework=framework, route="/posts", method="POST",
                       status="201") == 1
        assert _sample(text, "http_requests_total", route="/posts/{post_id}", method="GET", status="200") == 1
        assert _sample(text, "http_request_duration_seconds_count", route="/posts", method="POST") == 1
        assert _sample(text, "ai_task_duration_seconds_count", framework=framework, task="tags") == 1
        assert any(labels.get("route") == "/metrics" for labels in _series(text, "http_requests_in_progress"))
        # Each master would otherwise claim the one per-user control socket, ~/.gunicorn/gunicorn.ctl.
        assert not (home / ".gunicorn").exists()
    finally:
        server.stop()
    assert not made[0].exists()


@pytest.mark.parametrize("access_log", ["on", "off"])
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_access_log_has_one_line_per_request_and_one_switch(framework: str, access_log: str, tmp_path: Path) -> None:
    env = {"INFERENCE_MODE": "off"} if access_log == "on" else {"INFERENCE_MODE": "off", "ACCESS_LOG": "off"}
    server = start_api(framework, env, tmp_path)
    try:
        marker = f"probe-{framework}-{access_log}"
        for _ in range(3):
            assert httpx.get(server.url(f"/health?{marker}")).status_code == 200
        assert httpx.get(server.url(f"/posts/424242?{marker}")).status_code == 404
        deadline = time.monotonic() + 5
        expected = 4 if access_log == "on" else 0
        while True:
            lines = [line for line in server.log().splitlines() if marker in line]
            if len(lines) >= expected or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(lines) == expected, server.log()[-2000:]
        assert sum(" 404" in line for line in lines) == (1 if access_log == "on" else 0)
    finally:
        server.stop()


def test_bad_settings_stop_the_master(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "WEB_WORKERS": "0",
           "PORT": "1", "DATABASE_PATH": str(tmp_path / "db.sqlite3")}
    result = subprocess.run([str(service_dir("flask") / "start.sh")], env=env, capture_output=True, timeout=60)
    assert result.returncode != 0 and b"web_workers" in result.stderr + result.stdout


def test_django_needs_a_secret_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env.update(PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", DATABASE_PATH=str(tmp_path / "db.sqlite3"),
               INFERENCE_MODE="off", PORT="1")
    result = subprocess.run([str(service_dir("django") / "start.sh")], env=env, capture_output=True, timeout=60)
    assert result.returncode != 0 and b"DJANGO_SECRET_KEY" in result.stderr


def test_off_mode_never_imports_torch() -> None:
    code = (
        "import sys; from blogcore.settings import APISettings; from blogcore.ai_routes import open_ai;"
        "open_ai(APISettings(inference_mode='off'));"
        "sys.path.insert(0, 'services/api-flask'); import blog_flask.app;"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_concurrent_writes_from_several_workers(framework: str, tmp_path: Path) -> None:
    """Two workers writing one SQLite file at once: WAL and the busy timeout mean no 'database is locked'."""
    from concurrent.futures import ThreadPoolExecutor

    server = start_api(framework, {"INFERENCE_MODE": "off"}, tmp_path, workers=2, threads=4)
    try:
        def write(i: int) -> int:
            with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
                created = client.post("/posts", json={"title": f"t{i}", "body": "b" * 2000})
                if created.status_code != 201:
                    return created.status_code
                post_id = created.json()["id"]
                updated = client.put(f"/posts/{post_id}", json={"title": "u", "body": "v"})
                return updated.status_code if updated.status_code != 200 else 201

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(write, range(48), timeout=120))
        assert statuses == [201] * 48, statuses
        total = httpx.get(server.url("/posts")).json()["total"]
        assert total == 48
    finally:
        server.stop()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_worker_freezes_what_it_loaded_out_of_the_collectors_passes(framework: str, tmp_path: Path) -> None:
    """A full collection over the app's imports paused a worker for 55-100 ms under load (blogcore.heap)."""
    # Unbuffered, so each worker's line is in the log as soon as it is written
    env = {"INFERENCE_MODE": "off", "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
    server = start_api(framework, env, tmp_path, workers=2)

    def frozen() -> list[int]:
        return [int(line.split("the app loaded: ")[1].split()[0])
                for line in (tmp_path / "server.log").read_text().splitlines() if "the app loaded: " in line]

    try:
        # A worker can be counted (and the other one answer) before its own start-up hooks have run
        deadline = time.monotonic() + 30
        while len(frozen()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.stop()
    assert len(frozen()) == 2 and min(frozen()) > 10_000, frozen()
