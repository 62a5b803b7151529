"""Django secure by default: the stock security middleware in place, Host validated, `check --deploy` clean but TLS."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.openapi_check import check
from servers import ApiServer, running_api, service_dir

# The two deploy checks a plain-HTTP service on loopback cannot satisfy (README, "Django and security"):
# W004 asks for HSTS and W008 for redirecting HTTP to HTTPS; both need TLS, which ends at a proxy if anywhere.
ACCEPTED_DEPLOY_WARNINGS = {"security.W004", "security.W008"}


def run_check_deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        # As the README tells users to make one; a weak key would rightly add security.W009.
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "INFERENCE_MODE": "off",
        "DATABASE_PATH": str(tmp_path / "check.sqlite3"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=service_dir("django"),
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_leaves_only_the_tls_warnings(tmp_path: Path) -> None:
    result = run_check_deploy(tmp_path)
    output = result.stdout + result.stderr
    found = set(re.findall(r"\((\w+\.[WE]\d+)\)", output))
    assert found == ACCEPTED_DEPLOY_WARNINGS, output
    # --fail-level WARNING: the accepted warnings still make the command fail, so it did run the checks.
    assert result.returncode == 1, output


def test_check_deploy_notices_a_weak_secret_key(tmp_path: Path) -> None:
    # The same command does catch a real mistake, so the test above is not passing vacuously.
    result = run_check_deploy(tmp_path, DJANGO_SECRET_KEY="short")
    assert "security.W009" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def django_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with running_api("django", {"INFERENCE_MODE": "off"}, tmp_path_factory.mktemp("django-hosts")) as server:
        yield server


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.2", "localhost.evil.example", "[::1]"])
def test_a_host_outside_allowed_hosts_gets_the_json_400(django_api: ApiServer, host: str) -> None:
    for method, path in (("GET", "/health"), ("GET", "/posts"), ("POST", "/posts")):
        response = httpx.request(
            method, django_api.url(path), headers={"Host": host}, json={"title": "t", "body": "b"}, timeout=10.0
        )
        assert response.status_code == 400, (method, path, response.text)
        body = response.json()
        check(body, "Error")
        assert body["error"]["code"] == "bad_request" and body["error"]["field"] == "Host"
    # Nothing was stored through a rejected Host.
    assert httpx.get(django_api.url("/posts"), timeout=10.0).json()["total"] == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST:8003"])
def test_the_allowed_hosts_are_served(django_api: ApiServer, host: str) -> None:
    response = httpx.get(django_api.url("/health"), headers={"Host": host}, timeout=10.0)
    assert response.status_code == 200, response.text


def test_the_stock_security_headers_are_sent(django_api: ApiServer) -> None:
    headers = httpx.get(django_api.url("/health"), timeout=10.0).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"


def test_allowed_hosts_come_from_django_allowed_hosts(tmp_path_factory: pytest.TempPathFactory) -> None:
    env = {"INFERENCE_MODE": "off", "DJANGO_ALLOWED_HOSTS": "api.example,127.0.0.1"}
    with running_api("django", env, tmp_path_factory.mktemp("django-env-hosts")) as server:
        assert httpx.get(server.url("/health"), headers={"Host": "api.example"}).status_code == 200
        assert httpx.get(server.url("/health"), headers={"Host": "localhost"}).status_code == 400
