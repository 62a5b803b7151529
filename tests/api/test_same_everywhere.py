"""The three frameworks side by side: the same requests get byte-for-byte the same JSON, and the same metrics."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.conftest import all_apis
from blogcore.settings import APISettings
from servers import FRAMEWORKS, ApiServer

JSON = {"content-type": "application/json"}
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")

# (method, path, raw body or None, headers)
REQUESTS: list[tuple[str, str, bytes | None, dict[str, str]]] = [
    ("GET", "/health", None, {}),
    ("GET", "/ready", None, {}),
    ("POST", "/posts", b'{"title": " First ", "body": "Body", "tags": ["A", " b "]}', JSON),
    ("POST", "/posts", b'{"title": "Second", "body": "Body \\u00e9 \xf0\x9f\x9a\x80"}', JSON),
    ("GET", "/posts", None, {}),
    ("GET", "/posts?page=2&page_size=1", None, {}),
    ("GET", "/posts/1", None, {}),
    ("PUT", "/posts/1", b'{"title": "Edited", "body": "New body"}', JSON),
    ("PUT", "/posts/1", b'{"title": "Edited", "body": "New body", "enrich": true}', JSON),
    ("POST", "/posts", b'{"title": "t", "body": "b", "enrich": true}', JSON),
    ("DELETE", "/posts/2", None, {}),
    ("GET", "/posts/2", None, {}),
    ("GET", "/posts/0", None, {}),
    ("GET", "/posts/abc", None, {}),
    ("GET", "/posts/9223372036854775808", None, {}),
    ("GET", "/posts/" + "9" * 20, None, {}),
    ("GET", "/posts/" + "9" * 5000, None, {}),
    ("PUT", "/posts/" + "9" * 5000, b'{"title": "t", "body": "b"}', JSON),
    ("GET", "/posts?page_size=1000", None, {}),
    ("GET", "/posts?page=x", None, {}),
    ("POST", "/posts", b"{", JSON),
    ("POST", "/posts", b"", JSON),
    ("POST", "/posts", b"null", JSON),
    ("POST", "/posts", b"[]", JSON),
    ("POST", "/posts", b'{"title": "t"}', JSON),
    ("POST", "/posts", b'{"title": "t", "body": "b", "extra": 1}', JSON),
    ("POST", "/posts", b'{"title": "t", "body": "b", "tags": ["ok", 3]}', JSON),
    ("POST", "/posts", b'{"title": "t", "body": "b", "tags": "x"}', JSON),
    ("POST", "/posts", b'{"title": "t", "body": "b"}', {"content-type": "text/plain"}),
    ("POST", "/posts", b'{"title": "t", "body": "b"}', {}),
    ("PUT", "/posts/999", b'{"title": "t", "body": "b"}', JSON),
    ("PUT", "/posts/999", b'{"title": 1, "body": "b"}', JSON),
    ("POST", "/ai/summarize", b'{"text": "Hello"}', JSON),
    ("POST", "/ai/sentiment", b'{"post_id": 1}', JSON),
    ("POST", "/ai/title", b'{"post_id": 424242}', JSON),
    ("POST", "/ai/tags", b'{"text": "a", "post_id": 1}', JSON),
    ("POST", "/ai/tags", b"{}", JSON),
    ("GET", "/ai/tags", None, {}),
    ("DELETE", "/health", None, {}),
    ("GET", "/no/such/route", None, {}),
]


def exchange(server: ApiServer) -> list[tuple[int, Any, str | None]]:
    answers = []
    with httpx.Client(base_url=server.base_url, timeout=10.0) as client:
        for method, path, raw, headers in REQUESTS:
            request = client.build_request(method, path, content=raw, headers=headers)
            if "content-type" not in headers:
                request.headers.pop("content-type", None)
            response = client.send(request)
            body = response.json() if response.content else None
            # Timestamps differ between servers by when they ran; their format is checked elsewhere.
            text = STAMP.sub("<timestamp>", json.dumps(body, ensure_ascii=False, sort_keys=True))
            answers.append((response.status_code, json.loads(text), response.headers.get("location")))
    return answers


def test_identical_answers(all_off_apis: dict[str, ApiServer]) -> None:
    answers = {framework: exchange(server) for framework, server in all_off_apis.items()}
    reference = answers["flask"]
    for framework in FRAMEWORKS[1:]:
        for request, expected, got in zip(REQUESTS, reference, answers[framework], strict=True):
            assert got == expected, f"{framework} differs from flask on {request[0]} {request[1]} {request[2]!r}"


def label_sets(server: ApiServer) -> dict[str, set[tuple[str, ...]]]:
    """metric sample name -> the set of its label-name tuples, and for requests the label values."""
    text = httpx.get(server.url("/metrics"), timeout=10.0).text
    found: dict[str, set[tuple[str, ...]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k != "le"}
            found.setdefault(sample.name, set()).add(tuple(sorted(labels)))
            if sample.name == "http_requests_total":
                found.setdefault("requests", set()).add(
                    (labels["route"], labels["method"], labels["status"], labels["framework"])
                )
    return found


def test_same_metrics_everywhere(all_off_apis: dict[str, ApiServer]) -> None:
    for server in all_off_apis.values():
        for method, path in [("GET", "/health"), ("GET", "/posts/1"), ("GET", "/nope"), ("DELETE", "/health")]:
            httpx.request(method, server.url(path), timeout=10.0)
    metrics = {framework: label_sets(server) for framework, server in all_off_apis.items()}
    for framework, found in metrics.items():
        for name in (
            "http_requests_total",
            "http_request_duration_seconds_bucket",
            "http_requests_in_progress",
            "service_memory_bytes",
            "service_processes",
            "service_cpu_seconds_total",
            "blog_service_info",
        ):
            assert name in found, f"{framework} lacks {name}"
        assert found["http_requests_total"] == {("framework", "method", "route", "status")}
        assert found["http_requests_in_progress"] == {("framework", "method", "route")}
        assert found["blog_service_info"] == {("framework", "inference_mode", "model_profile", "model_source")}
        routes = {(route, method, status) for route, method, status, fw in found["requests"] if fw == framework}
        assert {("/health", "GET", "200"), ("/posts/{post_id}", "GET", "404"), ("unmatched", "GET", "404")} <= routes
        assert ("/health", "DELETE", "405") in routes
    names = {framework: set(found) - {"requests"} for framework, found in metrics.items()}
    # Python and process collectors are not part of the contract; everything of ours must match.
    ours = {n for n in names["flask"] if n.startswith(("http_", "ai_", "service_", "blog_"))}
    for framework in FRAMEWORKS[1:]:
        assert {n for n in names[framework] if n.startswith(("http_", "ai_", "service_", "blog_"))} == ours
        for name in ours:
            assert metrics[framework][name] == metrics["flask"][name], f"{framework}: labels of {name} differ"
    requests = {fw: {r[:3] for r in found["requests"]} for fw, found in metrics.items()}
    assert requests["fastapi"] == requests["flask"] == requests["django"]


# ---- probes below the routes: framing, encodings, sizes, HEAD/OPTIONS (issue 12) --------------------------------
# Sent on raw sockets: an HTTP client library would fix up exactly what these probes get wrong on purpose.

BODY_LIMIT = APISettings.model_fields["max_body_bytes"].default
VALID_POST = b'{"title": "chunked", "body": "sent in chunks"}'


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after answering

    def summary(self) -> tuple[Any, ...]:
        """What must be the same in every framework: status, error code and field, framing of the answer."""
        error = json.loads(self.body)["error"] if self.status >= 400 else None
        if error is not None:
            assert set(error) == {"status", "code", "message", "field"} and error["status"] == self.status
        return (
            self.status,
            error and (error["code"], error["field"]),
            self.headers.get("content-type"),
            self.headers.get("allow"),
            self.headers.get("connection", "keep-alive").lower(),
            self.closed,
        )


def chunked(body: bytes, size: int = 4096) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def raw_request(server: ApiServer, method: str, target: str, headers: dict[str, str], body: bytes = b"") -> RawAnswer:
    """Send one request as written (a Content-Length added to a body that has no framing), read one answer, then tell whether the server closed the connection."""
    if body and not {"content-length", "transfer-encoding"} & set(headers):
        headers = {**headers, "content-length": str(len(body))}
    head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(head.encode("latin-1") + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # a server may answer and close before reading all of an oversized body
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        answer_body = response.read()
        answer_headers = {name.lower(): value for name, value in response.getheaders()}
        sock.settimeout(3)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
        except ConnectionResetError:
            closed = True
    return RawAnswer(response.status, answer_headers, answer_body, closed)


JSON_TYPE = "application/json"
KEPT, CLOSED = ("keep-alive", False), ("close", True)
# probe -> (method, target, headers, body), and what every framework must answer: status, (code, field),
# content type, Allow, and the connection's fate.
PROBES: dict[str, tuple[tuple[str, str, dict[str, str], bytes], tuple[Any, ...]]] = {
    "small valid chunked POST": (
        ("POST", "/posts", {**JSON, "transfer-encoding": "chunked"}, chunked(VALID_POST, 8)),
        (201, None, JSON_TYPE, None, *KEPT),
    ),
    "chunked body over the limit": (
        ("POST", "/posts", {**JSON, "transfer-encoding": "chunked"}, chunked(b" " * (BODY_LIMIT + 10), 65536)),
        (413, ("payload_too_large", None), JSON_TYPE, None, *CLOSED),
    ),
    "declared body over the limit on keep-alive": (
        ("POST", "/posts", {**JSON, "content-length": str(BODY_LIMIT + 10)}, b"{"),
        (413, ("payload_too_large", None), JSON_TYPE, None, *CLOSED),
    ),
    "Content-Length and chunked together": (
        ("POST", "/posts", {**JSON, "content-length": str(len(VALID_POST)), "transfer-encoding": "chunked"},
         chunked(VALID_POST)),
        (400, ("bad_request", None), JSON_TYPE, None, *CLOSED),
    ),
    "UTF-8 BOM": (
        ("POST", "/posts", JSON, b"\xef\xbb\xbf" + VALID_POST),
        (400, ("malformed_json", None), JSON_TYPE, None, *KEPT),
    ),
    "UTF-16 body": (
        ("POST", "/posts", JSON, VALID_POST.decode().encode("utf-16-le")),
        (400, ("malformed_json", None), JSON_TYPE, None, *KEPT),
    ),
    "deep nesting": (
        ("POST", "/posts", JSON, b"[" * 5000 + b"]" * 5000),
        (400, ("malformed_json", None), JSON_TYPE, None, *KEPT),
    ),
    "invalid UTF-8": (
        ("POST", "/posts", JSON, b'{"title": "\xff", "body": "b"}'),
        (400, ("malformed_json", None), JSON_TYPE, None, *KEPT),
    ),
    "lone surrogate": (
        ("POST", "/posts", JSON, b'{"title": "\\ud800", "body": "b"}'),
        (400, ("malformed_json", None), JSON_TYPE, None, *KEPT),
    ),
    "HEAD on a GET route": (("HEAD", "/health", {}, b""), (200, None, JSON_TYPE, None, *KEPT)),
    "OPTIONS on a GET route": (
        ("OPTIONS", "/health", {}, b""), (204, None, None, "GET, HEAD, OPTIONS", *KEPT),
    ),
    "OPTIONS on a post": (
        ("OPTIONS", "/posts/1", {}, b""), (204, None, None, "GET, PUT, DELETE, HEAD, OPTIONS", *KEPT),
    ),
    "10 KB URL": (("GET", "/posts?q=" + "x" * 10_000, {}, b""), (414, ("uri_too_long", None), JSON_TYPE, None, *KEPT)),
    "20 KB header": (
        ("GET", "/health", {"x-big": "x" * 20_000}, b""),
        (431, ("header_fields_too_large", "X-Big"), JSON_TYPE, None, *KEPT),
    ),
}


def probe_answers(server: ApiServer) -> dict[str, RawAnswer]:
    answers = {name: raw_request(server, *request) for name, (request, _) in PROBES.items()}
    created = answers["small valid chunked POST"].headers["location"]
    answers["204 of a delete"] = raw_request(server, "DELETE", created, {})
    return answers


@pytest.mark.parametrize("mode", ["off", "inprocess"])
def test_probes_get_one_answer_everywhere(mode: str, request: pytest.FixtureRequest) -> None:
    servers: dict[str, ApiServer] = request.getfixturevalue(f"all_{mode}_apis")
    expected = {name: outcome for name, (_, outcome) in PROBES.items()}
    expected["204 of a delete"] = (204, None, None, None, *KEPT)
    for framework, server in servers.items():
        answers = probe_answers(server)
        got = {name: answer.summary() for name, answer in answers.items()}
        mismatches = {name: (got[name], want) for name, want in expected.items() if got[name] != want}
        assert not mismatches, f"{framework} ({mode}): {mismatches}"
        assert answers["HEAD on a GET route"].body == b"" and answers["204 of a delete"].body == b""
        assert "content-length" not in answers["204 of a delete"].headers
        assert "Traceback" not in server.log(), server.log()[-4000:]


# ---- logs, the same in all three (issue 12) ------------------------------------------------------------------------

ACCESS_LINE = '"GET /health HTTP/1.1" 200'


def log_once_written(server: ApiServer, line: str) -> str:
    """The server's log once it holds line: the access line is written after the answer has gone out."""
    deadline = time.monotonic() + 10
    while line not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    return server.log()


def test_every_api_logs_requests_and_its_models(all_inprocess_apis: dict[str, ApiServer]) -> None:
    for framework, server in all_inprocess_apis.items():
        httpx.get(server.url("/health"), timeout=10.0)
        log = log_once_written(server, ACCESS_LINE)
        # The shared AI code's lines, in blogcore's format, whatever the framework did to logging.
        assert "[INFO] blogcore.ai.engine: AI models loaded" in log, (framework, log[-3000:])
        assert "[INFO] blogcore.ai.engine: AI models warmed up" in log, (framework, log[-3000:])
        assert ACCESS_LINE in log, (framework, log[-3000:])


def test_access_log_can_be_switched_off(tmp_path_factory: pytest.TempPathFactory) -> None:
    with all_apis(tmp_path_factory, {"INFERENCE_MODE": "off", "ACCESS_LOG": "off", "LOG_LEVEL": "INFO"}, "quiet") as servers:
        for server in servers.values():
            for _ in range(3):
                assert httpx.get(server.url("/health"), timeout=10.0).status_code == 200
    # Read once the servers have stopped, so that no line can still be on its way; gunicorn's last line (INFO) shows
    # that the log was written all along.
    for framework, server in servers.items():
        assert "GET /health" not in server.log(), (framework, server.log()[-3000:])
        assert "Shutting down" in server.log(), (framework, server.log()[-3000:])
