import pytest
from pydantic import ValidationError

from blogcore import settings as settings_module
from blogcore.settings import APISettings, cores_given, process_settings


def test_torch_threads_split_the_cores_this_process_may_use(monkeypatch):
    monkeypatch.setattr(settings_module.os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    monkeypatch.setattr(settings_module.Path, "read_text", lambda _self: "max 100000\n")
    assert cores_given() == 4
    assert APISettings(web_workers=2).effective_torch_threads == 2
    assert APISettings(web_workers=8).effective_torch_threads == 1


def test_a_cgroup_quota_caps_the_cores(monkeypatch):
    monkeypatch.setattr(settings_module.os, "sched_getaffinity", lambda _pid: set(range(16)))
    monkeypatch.setattr(settings_module.Path, "read_text", lambda _self: "150000 100000\n")
    assert cores_given() == 2
    assert APISettings(web_workers=2).effective_torch_threads == 1


def test_explicit_torch_threads_win():
    assert APISettings(torch_threads=3).effective_torch_threads == 3


def test_compute_slots_are_the_cores_over_the_torch_threads_of_one_call(monkeypatch):
    monkeypatch.setattr(settings_module.os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    monkeypatch.setattr(settings_module.Path, "read_text", lambda _self: "max 100000\n")
    assert APISettings(web_workers=2).compute_slots == 2  # 2 torch threads a call
    assert APISettings(web_workers=8).compute_slots == 4
    assert APISettings(ai_compute_slots=1).compute_slots == 1
    monkeypatch.setattr(settings_module.os, "sched_getaffinity", lambda _pid: {0})
    assert APISettings(web_workers=2).compute_slots == 1
    with pytest.raises(ValidationError):
        APISettings(ai_compute_slots=-1)


@pytest.mark.parametrize(
    ("name", "value"),
    [("INFERENCE_MODE", "sometimes"), ("INFERENCE_ADDR", "no-port"), ("WEB_WORKERS", "0"), ("MODEL_PROFILE", "huge"),
     ("METRICS", "maybe")],
)
def test_bad_environment_values_fail_fast(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        APISettings()


def test_metrics_are_on_unless_switched_off(monkeypatch):
    assert APISettings().metrics == "on"
    monkeypatch.setenv("METRICS", "off")
    assert APISettings().metrics == "off"


def test_a_process_reads_its_settings_once(monkeypatch: pytest.MonkeyPatch) -> None:
    process_settings.cache_clear()
    monkeypatch.setenv("WEB_WORKERS", "3")
    try:
        first = process_settings()
        monkeypatch.setenv("WEB_WORKERS", "5")
        assert process_settings() is first and first.web_workers == 3
    finally:
        process_settings.cache_clear()
