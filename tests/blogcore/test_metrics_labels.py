"""Route-label normalisation and the metric helpers of blogcore.metrics."""

from __future__ import annotations

import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from blogcore import errors, metrics
from blogcore.settings import APISettings


@pytest.mark.parametrize(
    ("rule", "label"),
    [
        ("/posts/<int:post_id>", "/posts/{post_id}"),  # Flask / Werkzeug
        ("posts/<int:post_id>", "/posts/{post_id}"),  # Django path()
        ("/posts/{post_id:int}", "/posts/{post_id}"),  # Starlette with a convertor
        ("/posts/{post_id}", "/posts/{post_id}"),  # already a template
        ("^posts/(?P<post_id>[0-9]+)$", "unmatched"),  # a regex route is not one of ours
        ("/posts", "/posts"),
        ("posts", "/posts"),
        ("health", "/health"),
        ("/ai/summarize", "/ai/summarize"),
        ("/admin/<path:rest>", "unmatched"),
        ("/static/{path:path}", "unmatched"),
        ("", "unmatched"),
        (None, "unmatched"),
    ],
)
def test_normalise_route(rule: str | None, label: str) -> None:
    assert metrics.normalise_route(rule) == label


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/posts/12", "/posts/{post_id}"),
        ("/posts", "/posts"),
        ("/posts/", "unmatched"),
        ("/posts/abc", "unmatched"),
        ("/posts/9223372036854775807", "/posts/{post_id}"),
        ("/posts/" + "9" * 20, "unmatched"),  # no router takes more digits than a 64-bit id has
        ("/ai/tags", "/ai/tags"),
        ("/ai/tags/x", "unmatched"),
        ("/", "unmatched"),
    ],
)
def test_route_for_path(path: str, label: str) -> None:
    assert metrics.route_for_path(path) == label


def test_every_openapi_path_is_a_route_label() -> None:
    from api.openapi_check import spec

    assert set(spec()["paths"]) == set(metrics.ROUTE_TEMPLATES)


def _samples(name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = metrics.render()[0].decode()
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_request_timer_counts_and_tracks_in_progress() -> None:
    metrics.configure("unit", APISettings(inference_mode="off"))
    key = (("framework", "unit"), ("method", "GET"), ("route", "/health"))
    before = _samples("http_requests_in_progress").get(key, 0.0)
    timer = metrics.start_request(lambda: "/health", "get")
    assert _samples("http_requests_in_progress")[key] == before + 1
    timer.finish(200)
    timer.finish(200)  # a second finish must not count twice
    assert _samples("http_requests_in_progress")[key] == before
    counted = _samples("http_requests_total")[(*key[:2], key[2], ("status", "200"))]
    assert counted >= 1


def test_unusual_methods_are_one_label() -> None:
    assert metrics.start_request(lambda: "unmatched", "BREW").method == "OTHER"


def test_service_info_and_memory_are_exported() -> None:
    metrics.configure("unit", APISettings(inference_mode="off", model_profile="tiny", model_source="synthetic"))
    info = _samples("blog_service_info")
    assert info == {
        (("framework", "unit"), ("inference_mode", "off"), ("model_profile", "tiny"), ("model_source", "synthetic")): 1
    }
    assert _samples("service_memory_bytes")[(("kind", "rss"),)] > 0


def test_ai_task_observation() -> None:
    metrics.configure("unit", APISettings(inference_mode="off"))
    metrics.observe_ai_task("tags", "off", "ai_disabled", 0.01)
    key = (("framework", "unit"), ("mode", "off"), ("outcome", "ai_disabled"), ("task", "tags"))
    assert _samples("ai_task_duration_seconds_count")[key] >= 1


def test_metrics_off_records_nothing_and_render_is_not_found() -> None:
    metrics.configure("unit-off", APISettings(inference_mode="off", metrics="off"))
    try:
        assert not metrics.recording()

        def never_resolved() -> str:
            raise AssertionError("the route was resolved with metrics off")

        metrics.start_request(never_resolved, "GET").finish(200)
        metrics.observe_ai_task("tags", "off", "ai_disabled", 0.01)
        with pytest.raises(errors.NotFound) as raised:
            metrics.render()
        assert raised.value.status == 404 and raised.value.code == metrics.METRICS_OFF_CODE
    finally:
        metrics.configure("unit", APISettings(inference_mode="off"))
    counted = _samples("http_requests_total").keys() | _samples("ai_task_duration_seconds_count").keys()
    assert not [labels for labels in counted if ("framework", "unit-off") in labels]


def test_multiprocess_mode_follows_the_environment_even_if_prometheus_client_came_first(tmp_path):
    """Any start path may import prometheus_client (through a library) before PROMETHEUS_MULTIPROC_DIR is set."""
    import subprocess
    import sys

    code = (
        "import os, prometheus_client;"
        f"os.environ['PROMETHEUS_MULTIPROC_DIR'] = {str(tmp_path)!r};"
        "from blogcore import metrics;"
        "metrics.start_request(lambda: '/posts', 'GET').finish(200);"
        "print(metrics.render()[0].decode())"
    )
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.glob("*.db")), "samples were kept in process, not written for the other workers"
    assert 'http_requests_total{' in result.stdout and 'route="/posts"' in result.stdout
