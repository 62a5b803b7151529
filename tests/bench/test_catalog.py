"""bench.catalog: frameworks, modes and scenarios are found, not listed; a test-only framework reaches everything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from bench import catalog

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"

# Run in a fresh interpreter with the fixture directory on the search path: every module reads the catalog at
# import, as the harness does when it starts.
PROBE = """
import json, sys
sys.path[:0] = ["tests", "tests/bench"]
from bench import config, services, model
from bench.report import write_report
from runs import PROFILE, make_run
import servers

run = make_run({**PROFILE, "minimal": PROFILE["flask"]})
report = write_report(model.Run.model_validate_json(run.model_dump_json()), __import__("pathlib").Path(sys.argv[1]))
import tomllib
raw = tomllib.loads(config.DEFAULT_CONFIG.read_text())
raw["plan"]["frameworks"] = ["flask", "minimal"]
print(json.dumps({
    "config": list(config.FRAMEWORKS),
    "config_file": list(config.parse_config(raw).plan.frameworks),
    "services": sorted(services.SERVICE_DIRS),
    "tests": list(servers.FRAMEWORKS),
    "report": "| minimal | on | 1x |" in report.read_text(),
}))
"""


def test_the_real_services_are_found_from_their_manifests() -> None:
    assert catalog.frameworks() == ("flask", "fastapi", "django")
    assert {name: s.role for name, s in catalog.services().items()}["inference"] == "inference"
    for service in catalog.services().values():
        assert service.start_script.is_file() and service.concurrency in ("sync", "async")
    assert catalog.needs_inference("remote") and not catalog.needs_inference("inprocess")


def test_scenarios_are_the_k6_scripts_the_matrix_drives() -> None:
    scenarios = catalog.scenarios()
    assert {"crud", "ai_mixed", "ai_title"} <= set(scenarios) and "ai_overload" not in scenarios
    assert "ai_title" in catalog.ai_only_scenarios() and "ai_mixed" not in catalog.ai_only_scenarios()
    assert all((REPO / "k6" / f"{name}.js").is_file() for name in scenarios)


def test_a_test_only_framework_is_discovered_by_the_harness_the_tests_and_the_report(tmp_path: Path) -> None:
    env = {**os.environ, catalog.SEARCH_PATH_ENV: str(FIXTURES)}
    probe = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr[-4000:]
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    for where in ("config", "config_file", "services", "tests"):
        assert "minimal" in seen[where], where
    assert seen["report"]


def test_the_test_only_framework_starts_like_the_others(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(catalog.SEARCH_PATH_ENV, str(FIXTURES))
    sys.path.insert(0, str(REPO / "tests"))
    from servers import running_api

    with running_api("minimal", {}, tmp_path) as server:
        assert httpx.get(server.url("/ready"), timeout=5).status_code == 200
