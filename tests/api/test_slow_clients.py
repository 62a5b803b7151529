"""Slow clients and the buffering front (services/front): more half-sent bodies than the API has threads must not
starve it, and what the front answers itself carries the APIs' JSON error shape."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bench.processes import free_port
from blogcore.settings import APISettings
from servers import FRAMEWORKS, ApiServer, FrontServer, running_api, running_front

OFF_ENV = {"INFERENCE_MODE": "off"}
WORKERS, THREADS = 1, 4
# More half-sent bodies than the API has threads, so that without the front each would hold one.
SLOW_CLIENTS = WORKERS * THREADS + 4
DECLARED_BODY_BYTES = 1000
# Long enough for any loaded machine to answer /health while the slow clients still hang (the test waits no timer).
HOLD_TIMEOUT_S = 60
# How long /health may take before the API counts as starved (without the front).
STARVED_AFTER_S = 3.0
# The slow-client timeout of the front that is to cut them off.
SHORT_CLIENT_TIMEOUT_S = 1
FRONT_START = Path(__file__).resolve().parents[2] / "services" / "front" / "start.sh"

pytestmark = pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="nginx missing: apt-get install nginx-light (scripts/setup.sh does it when run as root)",
)


def address(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.hostname}:{parts.port}"


@contextlib.contextmanager
def half_sent_bodies(base_url: str, count: int, target: str = "/posts") -> Iterator[list[socket.socket]]:
    """count connections that each send a POST's headers and a tenth of its declared body, then wait."""
    parts = urlsplit(base_url)
    head = (
        f"POST {target} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {DECLARED_BODY_BYTES}\r\n\r\n"
    ).encode()
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection((parts.hostname, parts.port), timeout=HOLD_TIMEOUT_S)
            sock.sendall(head + b'{"title": "' + b"x" * (DECLARED_BODY_BYTES // 10))
            sockets.append(sock)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(scope="module", params=FRAMEWORKS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    workdir = tmp_path_factory.mktemp(f"{request.param}-slow")
    with running_api(request.param, OFF_ENV, workdir, workers=WORKERS, threads=THREADS) as server:
        yield server


@pytest.fixture
def front(api: ApiServer, tmp_path: Path) -> Iterator[FrontServer]:
    with running_front(address(api.base_url), tmp_path, {"FRONT_CLIENT_TIMEOUT_S": str(HOLD_TIMEOUT_S)}) as server:
        yield server


def test_health_answers_through_the_front_while_more_bodies_hang_than_there_are_threads(
    api: ApiServer, front: FrontServer
) -> None:
    with half_sent_bodies(front.base_url, SLOW_CLIENTS):
        response = httpx.get(front.url("/health"), timeout=30)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        # A whole request still reaches the app and its answer comes back as the app wrote it.
        created = httpx.post(front.url("/posts"), json={"title": "through the front", "body": "b"}, timeout=30)
        assert created.status_code == 201, created.text
    assert api.worker_pids() == api.initial_worker_pids


def test_without_the_front_the_same_slow_bodies_starve_a_gthread_api(api: ApiServer) -> None:
    """Why the front exists: gunicorn's gthread workers give each slow body a thread (uvicorn does not)."""
    if api.framework == "fastapi":
        pytest.skip("uvicorn reads bodies on its event loop: slow bodies hold no thread")
    with half_sent_bodies(api.base_url, SLOW_CLIENTS), pytest.raises(httpx.TimeoutException):
        httpx.get(api.url("/health"), timeout=STARVED_AFTER_S)


def test_a_slow_body_is_cut_off_by_the_front_and_never_reaches_the_app(api: ApiServer, tmp_path: Path) -> None:
    env = {"FRONT_CLIENT_TIMEOUT_S": str(SHORT_CLIENT_TIMEOUT_S)}
    target = "/posts?cut-off-by-the-front"  # the API's access log names every request it saw
    with running_front(address(api.base_url), tmp_path, env) as short_front:
        with half_sent_bodies(short_front.base_url, 1, target) as (sock,):
            # nginx ends a request whose body stalls past client_body_timeout by closing the connection: it
            # counts it as 408 but, by design, sends nothing, so the client reads the end of the stream.
            assert sock.recv(4096) == b""
        assert httpx.get(short_front.url("/health"), timeout=30).status_code == 200
    assert "GET /health" in api.log() and target not in api.log(), "a half-sent body reached the app"


def raw_answer(front: FrontServer, request: bytes) -> httpx.Response:
    """Send request bytes as they are (no client would send them) and parse the answer nginx gives."""
    with socket.create_connection(("127.0.0.1", front.port), timeout=30) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(line.split(": ", 1)) for line in header_lines]
    return httpx.Response(int(status_line.split()[1]), headers=headers, content=body)


def request_bytes(target: str, headers: dict[str, str] | None = None, method: str = "GET") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


REFUSED_BY_THE_FRONT = {
    "body over MAX_BODY_BYTES": (
        request_bytes("/posts", {"Content-Type": "application/json",
                                 "Content-Length": str(APISettings().max_body_bytes + 1)}, "POST"),
        413, "payload_too_large"),
    "10 KB request line": (request_bytes("/posts/" + "1" * 10_000), 414, "uri_too_long"),
    "20 KB header": (request_bytes("/health", {"X-Padding": "p" * 20_000}), 431, "header_fields_too_large"),
    "not HTTP": (b"NONSENSE\r\n\r\n", 400, "bad_request"),
}


@pytest.mark.parametrize("probe", list(REFUSED_BY_THE_FRONT))
def test_what_the_front_refuses_carries_the_json_error_shape(front: FrontServer, probe: str) -> None:
    request, status, code = REFUSED_BY_THE_FRONT[probe]
    response = raw_answer(front, request)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"status", "code", "message", "field"}
    assert (error["status"], error["code"], error["field"]) == (status, code, None)
    assert response.headers.get("server") == "nginx", "server_tokens off: no version given away"


def test_an_api_that_does_not_answer_is_a_json_502(tmp_path: Path) -> None:
    with running_front(f"127.0.0.1:{free_port()}", tmp_path) as front:
        response = httpx.get(front.url("/health"), timeout=30)
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "api_unavailable"


# Answers the app gives, which the front must pass on untouched: AI off (503), an unknown route, a foreign Host
# (Django's ALLOWED_HOSTS: the client's Host must reach it), a wrong method.
APP_ANSWERS = {
    "AI off": ("POST", "/ai/summarize", {}, {"text": "a text to summarize"}),
    "unknown route": ("GET", "/no/such/route", {}, None),
    "foreign Host": ("GET", "/health", {"Host": "evil.example"}, None),
    "wrong method": ("DELETE", "/health", {}, None),
}


@pytest.mark.parametrize("case", list(APP_ANSWERS))
def test_the_apps_own_answers_pass_through_the_front_untouched(api: ApiServer, front: FrontServer, case: str) -> None:
    method, path, headers, body = APP_ANSWERS[case]
    direct, fronted = (
        httpx.request(method, base + path, headers=headers, json=body, timeout=30)
        for base in (api.base_url, front.base_url)
    )
    assert fronted.status_code == direct.status_code
    assert fronted.json() == direct.json()
    for header in ("content-type", "retry-after", "allow"):
        assert fronted.headers.get(header) == direct.headers.get(header), header


def test_the_front_defaults_follow_the_apis_settings() -> None:
    """The front's body limit is the API's, and it waits longer for an answer than gunicorn lets a worker run."""
    script = FRONT_START.read_text()

    def default(name: str) -> int:
        return int(re.search(rf'^{name}="\$\{{{name}:-(\d+)\}}"$', script, re.M).group(1))

    settings = APISettings()
    assert default("MAX_BODY_BYTES") == settings.max_body_bytes
    gunicorn_timeout = max(120, settings.inference_timeout_s * 2 + 30)  # blogcore.gunicorn_conf.timeout
    assert default("FRONT_READ_TIMEOUT_S") > gunicorn_timeout
