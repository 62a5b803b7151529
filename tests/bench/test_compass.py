"""The compass experiments (bench/compass.py): the interval arithmetic on synthetic data, the closed loop with a
fake call, the configuration, and each experiment once against real services with tiny models and short windows."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bench import compass, intervals
from bench.config import ConfigError, load_config, parse_config
from bench.context import RunContext
from bench.model import AICapacity, ConfigResult, Memory, Pinning
from blogcore.ai.backend import AIOverloaded, Task


def test_hop_interval_is_the_median_of_paired_differences() -> None:
    rng = np.random.default_rng(9)
    local = rng.lognormal(2.0, 0.8, 400)  # each pair has its own cost; the hop is what remote adds to it
    remote = local + rng.normal(1.5, 0.3, 400)
    hop = compass.hop_interval(remote, local)
    assert hop.n == 400
    assert hop.estimate == pytest.approx(float(np.median(remote - local)))
    assert hop.low <= hop.estimate <= hop.high
    assert hop.low < 1.5 < hop.high


def test_hop_interval_needs_pairs() -> None:
    with pytest.raises(ValueError, match="paired"):
        compass.hop_interval([1.0, 2.0], [1.0])


def test_remote_efficiency_is_the_exact_rate_ratio_of_the_counts() -> None:
    own = compass.Throughput(answers=240, window_s=20.0, clients=8, failures={})
    api = intervals.per_second(90, 12.0)
    ratio = compass.remote_efficiency(api, own)
    assert ratio == intervals.rate_ratio(90, 12.0, 240, 20.0)
    assert ratio.low < ratio.estimate < ratio.high
    assert compass.remote_efficiency(intervals.per_second(0, 12.0), own) is None
    assert compass.remote_efficiency(intervals.mean([1.0, 2.0]), own) is None


def test_closed_loop_takes_tasks_and_texts_in_turn_and_counts_failures() -> None:
    seen: list[tuple[Task, str]] = []
    lock = threading.Lock()

    def call(task: Task, text: str) -> None:
        with lock:
            seen.append((task, text))
            refuse = len(seen) % 5 == 0
        time.sleep(0.002)
        if refuse:
            raise AIOverloaded("full", retry_after_s=0)

    measured = compass.closed_loop(call, [Task.TITLE, Task.TAGS], ["a", "b", "c"], clients=3, warmup_s=0.1,
                                   window_s=0.5, cutoff_s=2.0)
    assert measured.answers > 0 and measured.failures.get("AIOverloaded", 0) > 0
    assert measured.rps.n == measured.answers and measured.window_s == 0.5
    assert {task for task, _ in seen} == {Task.TITLE, Task.TAGS}
    assert {text for _, text in seen} == {"a", "b", "c"}


def test_closed_loop_retries_a_failed_call_so_the_answered_mix_stays_the_plans() -> None:
    calls = [0]
    answered: list[Task] = []

    def every_other_call_refused(task: Task, _text: str) -> None:
        calls[0] += 1
        if calls[0] % 2 == 0:  # without the retry, every answer would be a title
            raise AIOverloaded("full", retry_after_s=0)
        answered.append(task)
        time.sleep(0.002)

    compass.closed_loop(every_other_call_refused, [Task.TITLE, Task.TAGS], ["a"], clients=1, warmup_s=0,
                        window_s=0.5, cutoff_s=2.0)
    assert len(answered) >= 4
    assert abs(answered.count(Task.TITLE) - answered.count(Task.TAGS)) <= 1


def test_request_texts_are_the_sample_or_the_seeded_posts(tmp_path: Path) -> None:
    sample = tmp_path / "texts.json"
    sample.write_text('{"texts": [{"title": "t", "text": "One article.", "words": 2}]}', encoding="utf-8")
    assert compass.request_texts(sample) == ["One article."]
    assert compass.request_texts(None) and compass.request_texts(None)[0].strip()


def _config(framework: str, mode: str, pss_mib: float | None) -> ConfigResult:
    memory = {"api": Memory(pss_mib=pss_mib, uss_mib=pss_mib, rss_mib=pss_mib, processes=3)} if pss_mib else {}
    return ConfigResult(framework=framework, mode=mode, idle_memory=memory)


def test_memory_remote_vs_off_needs_both_readings() -> None:
    configs = [_config("flask", "off", 100.0), _config("flask", "remote", 130.0), _config("flask", "inprocess", 900.0),
               _config("django", "remote", 150.0), _config("fastapi", "off", 80.0), _config("fastapi", "remote", None)]
    assert compass.memory_remote_vs_off(configs) == {"flask": pytest.approx(1.3)}


def test_compass_config_defaults_profiles_and_bounds() -> None:
    default = load_config()
    assert default.compass.enabled and default.compass.metrics_overhead_frameworks
    assert not load_config(profile="quick").compass.enabled
    raw = {"plan": {}, "slo": {}, "judgement": {}, "services": {}, "pinning": {}}
    assert parse_config(raw).compass == default.compass  # a configuration without [compass] still parses
    assert parse_config({**raw, "compass": {"metrics_overhead_frameworks": []}}).compass.metrics_overhead_frameworks == ()
    with pytest.raises(ConfigError, match="compass"):
        parse_config({**raw, "compass": {"metrics_overhead_frameworks": ["rails"]}})
    with pytest.raises(ConfigError, match="compass"):
        parse_config({**raw, "compass": {"enabled": "yes"}})


# ---- against real services ----------------------------------------------------------------------------------------


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    """The quick profile's tiny models, short windows, nothing pinned."""
    config = load_config(profile="quick")
    config = dataclasses.replace(config, compass=dataclasses.replace(config.compass, warmup_s=1, hop_calls=24))
    return RunContext(config=config, run_dir=tmp_path, pinning=Pinning(service_cpus=[], k6_cpus=[], pinned=False,
                      note="test"), texts_file=None, say=lambda where, what: None)


@pytest.mark.slow
def test_inference_own_rps_answers_within_its_window(ctx: RunContext) -> None:
    measured = compass.inference_own_rps(ctx, clients=4, window_s=2)
    assert measured.answers > 0 and measured.window_s == 2 and measured.clients == 4
    rps = measured.rps
    assert rps.n == measured.answers and 0 < rps.low <= rps.estimate <= rps.high


@pytest.mark.slow
def test_grpc_hop_pairs_every_call(ctx: RunContext) -> None:
    hop = compass.grpc_hop(ctx, calls=24)
    assert hop.n == 24 and hop.bounded
    assert hop.low <= hop.estimate <= hop.high


def test_measure_keeps_every_figure_it_got_and_says_why_one_is_missing(ctx: RunContext,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    own = compass.Throughput(answers=200, window_s=20.0, clients=8, failures={"AIOverloaded": 3})

    def no_service(*_args: object) -> compass.Throughput:
        raise compass.CompassFailed("the inference service answered nothing")

    monkeypatch.setattr(compass, "grpc_hop", lambda _ctx, calls: intervals.quantile([1.0] * calls, 0.5))
    overhead = {"flask": intervals.geometric_mean([1.1, 1.05, 1.2])}
    configs = [_config("flask", "off", 100.0), _config("flask", "remote", 120.0), _config("django", "remote", None)]
    configs[1].ai_capacity = _capacity(intervals.per_second(40, 16.0))
    configs[2].ai_capacity = _capacity(intervals.per_second(60, 16.0))

    monkeypatch.setattr(compass, "inference_own_rps", lambda *_args: own)
    measured_without_reads: list[str] = []

    def api_capacity(framework: str) -> AICapacity:
        measured_without_reads.append(framework)
        return _capacity(intervals.per_second(80, 16.0))

    assert compass.measure(ctx, configs, overhead, api_capacity) is None  # the quick profile: none of it
    ctx.config = dataclasses.replace(ctx.config, compass=dataclasses.replace(ctx.config.compass, enabled=True))
    figures = compass.measure(ctx, configs, overhead, api_capacity)
    # the framework with the highest remote capacity in the run, measured again with no reads beside it
    assert measured_without_reads == ["django"] and any("django" in note for note in figures.notes)
    assert figures.api_remote_rps == intervals.per_second(80, 16.0)
    assert figures.remote_efficiency == intervals.rate_ratio(80, 16.0, 200, 20.0)
    assert figures.inference_own_rps == own.rps and any("AIOverloaded" in note for note in figures.notes)
    assert figures.grpc_hop_p50_ms.n == ctx.config.compass.hop_calls
    assert figures.metrics_overhead == overhead  # from the CRUD rotation, as it was measured
    assert figures.memory_remote_vs_off == {"flask": pytest.approx(1.2)}

    monkeypatch.setattr(compass, "inference_own_rps", no_service)
    figures = compass.measure(ctx, configs, overhead, api_capacity)
    assert figures.inference_own_rps is None and figures.remote_efficiency is None
    assert any("answered nothing" in note for note in figures.notes)


def _capacity(rps: intervals.Interval) -> AICapacity:
    return AICapacity(clients=8, window_s=8.0, answers_per_window=[rps.n // 2, rps.n - rps.n // 2],
                      latency_p50_ms_per_window=[100.0, 100.0], stable=True, rps=rps)
