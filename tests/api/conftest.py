"""Real servers for the contract suite: each framework's start.sh under gunicorn, one worker, started once."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from servers import FRAMEWORKS, ApiServer, running_api, start_api

OFF_ENV = {"INFERENCE_MODE": "off"}


@pytest.fixture(scope="session", params=FRAMEWORKS)
def off_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One server per framework with AI off; its worker pids are remembered to prove none died."""
    with running_api(request.param, OFF_ENV, tmp_path_factory.mktemp(f"{request.param}-off")) as server:
        yield server


@contextlib.contextmanager
def all_apis(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str], name: str, **options: Any) -> Iterator[dict[str, ApiServer]]:
    """All three frameworks at once in one mode, stopped however the block ends."""
    started: dict[str, ApiServer] = {}
    try:
        for framework in FRAMEWORKS:
            started[framework] = start_api(framework, env, tmp_path_factory.mktemp(f"{framework}-{name}"), **options)
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="session")
def all_off_apis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ApiServer]]:
    """All three at once, for comparisons across frameworks (fresh servers, so counters start at zero)."""
    with all_apis(tmp_path_factory, OFF_ENV, "cmp") as started:
        yield started


@pytest.fixture(scope="module")
def all_inprocess_apis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ApiServer]]:
    """All three at once with the tiny in-process models the contract tests use."""
    from api.test_contract_inprocess import TINY_INPROCESS_ENV

    env = {**TINY_INPROCESS_ENV, "LOG_LEVEL": "INFO"}  # INFO: the tests read the model lines from the logs
    with all_apis(tmp_path_factory, env, "inprocess-cmp", threads=2, ready_path="/ready", timeout_s=180) as started:
        yield started
