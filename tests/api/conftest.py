"""Real servers for the contract suite: each framework's start.sh under gunicorn, one worker, started once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from servers import FRAMEWORKS, ApiServer, running_api, start_api

OFF_ENV = {"INFERENCE_MODE": "off"}


@pytest.fixture(scope="session", params=FRAMEWORKS)
def off_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One server per framework with AI off; its worker pids are remembered to prove none died."""
    with running_api(request.param, OFF_ENV, tmp_path_factory.mktemp(f"{request.param}-off")) as server:
        yield server


@pytest.fixture(scope="session")
def all_off_apis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ApiServer]]:
    """All three at once, for comparisons across frameworks (fresh servers, so counters start at zero)."""
    started: dict[str, ApiServer] = {}
    try:
        for framework in FRAMEWORKS:
            started[framework] = start_api(framework, OFF_ENV, tmp_path_factory.mktemp(f"{framework}-cmp"))
        yield started
    finally:
        for server in started.values():
            server.stop()
