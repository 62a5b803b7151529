"""InferenceSettings: defaults, per-task batching overrides from the environment, bad values stop start-up."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from blogcore.ai.backend import Task
from inference_service.settings import InferenceSettings


def test_defaults_match_the_documented_ports_and_batching(monkeypatch):
    for name in ("HOST", "GRPC_PORT", "METRICS_PORT", "BATCH_MAX_SIZE", "BATCH_MAX_DELAY_MS", "BATCH_QUEUE_SIZE"):
        monkeypatch.delenv(name, raising=False)
    settings = InferenceSettings()
    assert (settings.host, settings.grpc_port, settings.metrics_port) == ("127.0.0.1", 50051, 9101)
    policy = settings.batch_policy(Task.TITLE)
    assert (policy.max_size, policy.max_delay_s, policy.queue_size) == (8, 0.005, 64)


def test_per_task_overrides_come_from_json(monkeypatch):
    monkeypatch.setenv("BATCH_MAX_SIZE", "4")
    monkeypatch.setenv("BATCH_PER_TASK", '{"summarize": {"max_size": 2, "max_delay_ms": 0}, "tags": {"queue_size": 9}}')
    settings = InferenceSettings()
    assert settings.batch_policy(Task.SUMMARIZE).max_size == 2
    assert settings.batch_policy(Task.SUMMARIZE).max_delay_s == 0
    assert settings.batch_policy(Task.TAGS).queue_size == 9
    assert settings.batch_policy(Task.TITLE).max_size == 4


@pytest.mark.parametrize(
    "name, value",
    [
        ("BATCH_PER_TASK", '{"poetry": {"max_size": 2}}'),
        ("BATCH_PER_TASK", '{"title": {"max_sise": 2}}'),
        ("BATCH_MAX_SIZE", "0"),
        ("BATCH_QUEUE_SIZE", "-1"),
        ("GRPC_PORT", "9101"),  # the same as METRICS_PORT
    ],
)
def test_bad_values_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    monkeypatch.setenv("METRICS_PORT", "9101")
    with pytest.raises(ValidationError):
        InferenceSettings()


def test_torch_threads_default_to_the_cores_given(monkeypatch):
    monkeypatch.setenv("TORCH_THREADS", "3")
    assert InferenceSettings().effective_torch_threads == 3
    monkeypatch.setenv("TORCH_THREADS", "0")
    assert InferenceSettings().effective_torch_threads >= 1


def test_the_service_yields_the_cpu_whatever_the_guard():
    # It stands in for a machine of its own: the naive arm must not measure a fight over the API's core.
    assert InferenceSettings(ai_guard="off", ai_nice=10).effective_ai_nice == 10
    assert InferenceSettings(ai_guard="on", ai_nice=0).effective_ai_nice == 0
