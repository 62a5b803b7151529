"""The three frameworks side by side: the same requests get byte-for-byte the same JSON, and the same metrics."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

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
