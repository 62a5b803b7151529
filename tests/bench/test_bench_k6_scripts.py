"""The k6 scripts against a stand-in API: they run, split results per request type, and refuse bad targets."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.k6run import K6_DIR, k6_binary, parse_summary
from bench.processes import Child, free_port, http_ok

FAKE_API = Path(__file__).with_name("fake_api.py")


@pytest.fixture(scope="module")
def fake_api(tmp_path_factory):
    """Two stand-ins: AI on and AI off (the off one answers AI routes 503 like INFERENCE_MODE=off)."""
    logs = tmp_path_factory.mktemp("fake-api")
    children, urls = [], {}
    try:
        for mode in ("on", "off"):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            child = Child(f"stand-in API ({mode})", [sys.executable, str(FAKE_API), str(port), mode], os.environ,
                          logs / f"{mode}.log")
            children.append(child)
            child.wait_ready(lambda: http_ok(f"{url}/health", timeout_s=1), timeout_s=10, interval_s=0.1)
            urls[mode] = url
        yield urls
    finally:
        for child in children:
            child.stop(grace_s=10)


def k6(script: str, env: dict, tmp_path: Path, timeout: float = 60) -> tuple[subprocess.CompletedProcess, dict | None]:
    summary = tmp_path / f"{script}.json"
    full_env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SUMMARY_JSON": str(summary), "K6_NO_USAGE_REPORT": "true",
                "DURATION": "2s", "RATE": "20", "SEED_POSTS": "3", **env}
    proc = subprocess.run([k6_binary(), "run", "--quiet", "--no-color", str(K6_DIR / script)], env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    return proc, (json.loads(summary.read_text()) if summary.exists() else None)


def test_ai_mixed_splits_results_per_operation(fake_api, tmp_path):
    proc, summary = k6("ai_mixed.js", {"BASE_URL": fake_api["on"], "TARGET_NAME": "flask"}, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    window = parse_summary(summary, target_name="flask", rate=20, duration_s=2)
    assert window["requests"] >= 30 and window["error_rate"] == 0
    assert {"crud", "ai"} <= window["latency_ms"].keys()
    assert {"list", "read"} <= window["ops"]["latency_ms"].keys()
    assert "all thresholds passed" in proc.stdout


def test_ai_disabled_is_expected_only_when_asked(fake_api, tmp_path):
    env = {"BASE_URL": fake_api["off"], "TARGET_NAME": "flask", "MIX": "list:1,sentiment:1"}
    proc, summary = k6("ai_mixed.js", {**env, "AI_DISABLED_OK": "1"}, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc, summary = k6("ai_mixed.js", env, tmp_path)
    assert proc.returncode == 99  # thresholds failed: the 503s count as errors
    assert parse_summary(summary, target_name="flask", rate=20, duration_s=2)["errors"]["ai"] == 1.0


@pytest.mark.parametrize("script", ["crud.js", "ai_summarize.js", "ai_sentiment.js", "ai_title.js", "ai_tags.js"])
def test_every_script_runs_and_stops_by_itself(fake_api, tmp_path, script):
    proc, summary = k6(script, {"BASE_URL": fake_api["on"], "DURATION": "1s", "RATE": "5"}, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary["metrics"]["http_reqs"]["values"]["count"] > 0


def test_target_all_runs_one_scenario_per_framework(fake_api, tmp_path):
    url = fake_api["on"]
    env = {"TARGET": "all", "FLASK_URL": url, "FASTAPI_URL": url, "DJANGO_URL": url, "DURATION": "1s", "RATE": "5"}
    proc, summary = k6("crud.js", env, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("flask", "fastapi", "django"):
        assert summary["metrics"][f"http_reqs{{target:{name}}}"]["values"]["count"] > 0


def test_a_down_target_fails_setup_with_a_clear_message(tmp_path):
    proc, _ = k6("crud.js", {"BASE_URL": f"http://127.0.0.1:{free_port()}"}, tmp_path)
    assert proc.returncode not in (0, 99)
    assert "target not up or not ready, no load was sent" in proc.stdout + proc.stderr


def test_non_loopback_targets_are_refused(tmp_path):
    proc, _ = k6("crud.js", {"BASE_URL": "http://example.com:8001"}, tmp_path)
    assert proc.returncode != 0
    assert "only loopback targets are allowed" in proc.stdout + proc.stderr


def test_fractional_rates_are_accepted(fake_api, tmp_path):
    proc, summary = k6("crud.js", {"BASE_URL": fake_api["on"], "DURATION": "2s", "RATE": "2.5"}, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 4 <= summary["metrics"]["iterations"]["values"]["count"] <= 6


def test_ai_requests_carry_the_real_texts_and_count_their_words(fake_api, tmp_path):
    texts = tmp_path / "texts.json"
    texts.write_text(json.dumps({"texts": [{"title": "t", "text": "one two three four five", "words": 5},
                                           {"title": "u", "text": "six seven eight", "words": 3}]}))
    env = {"BASE_URL": fake_api["on"], "TARGET_NAME": "flask", "MIX": "title:1", "AI_TEXTS": str(texts)}
    proc, summary = k6("ai_mixed.js", env, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    words = summary["metrics"]["ai_text_words"]["values"]
    assert words["count"] > 10 and words["min"] == 3 and words["max"] == 5
    assert "AI_TEXTS not set" not in proc.stdout + proc.stderr


def test_without_texts_the_scripts_warn_and_fall_back_to_stored_posts(fake_api, tmp_path):
    proc, summary = k6("ai_title.js", {"BASE_URL": fake_api["on"], "DURATION": "1s", "RATE": "5"}, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "AI_TEXTS not set" in proc.stdout + proc.stderr
    assert "ai_text_words" not in summary["metrics"] or not summary["metrics"]["ai_text_words"]["values"].get("count")


def test_no_summary_file_unless_one_is_asked_for(fake_api, tmp_path):
    """The README's k6 command, run from the repository root, must not leave k6-summary.json there."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "K6_NO_USAGE_REPORT": "true", "DURATION": "1s",
           "RATE": "5", "SEED_POSTS": "1", "BASE_URL": fake_api["on"]}
    proc = subprocess.run([k6_binary(), "run", "--quiet", "--no-color", str(K6_DIR / "crud.js")], env=env,
                          cwd=workdir, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all thresholds passed" in proc.stdout
    assert list(workdir.iterdir()) == []
