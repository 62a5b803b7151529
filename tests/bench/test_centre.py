"""The centre experiment's arithmetic: stability of the capacity windows, what an arm counts, censored reads."""

from pathlib import Path

import pytest

from bench import centre, intervals
from bench.config import SloConfig, load_config
from bench.k6run import Samples
from bench.model import AICapacity, ConfigResult


def samples(kind: str, requests: list[tuple[str, float, float]], first_start_s: float = 0.0) -> Samples:
    """requests: (status, latency ms, end time s)."""
    found = Samples(first_start_s=first_start_s)
    for status, ms, ended in requests:
        found.status_ms.setdefault(kind, {}).setdefault(status, []).append(ms)
        found.ended_s.setdefault(kind, {}).setdefault(status, []).append(ended)
    return found


@pytest.mark.parametrize(("counts", "first"), [
    ([100, 101, 99], 0),          # steady from the start
    ([20, 100, 103, 98], 1),      # a slow first window, then steady
    ([100, 400, 100, 400], None),  # never settles
    ([7, 9], 0),                  # few answers: rates that cannot be told apart agree
])
def test_capacity_windows_are_stable_from_the_first_window_whose_successors_all_agree(counts, first):
    assert centre.stable_from(counts, 6.0, 0.10) == first


def test_k6_schedules_one_arrival_at_zero_then_one_every_period():
    assert centre.scheduled(128.6, 3.0) == 386
    assert centre.scheduled(10.0, 10.0) == 100
    assert centre.scheduled(0.0, 10.0) == 0


def test_unanswered_reads_count_as_slower_than_the_cutoff():
    answered = [("200", 5.0, 1.0)] * 990
    outcome = centre.crud_outcome(samples("crud", answered), rate=100.0, window_s=10.0, cutoff_s=2.0)
    assert (outcome.offered, outcome.answered, outcome.non_200) == (1000, 990, 0)
    # 1 % of the reads never came back: the p99 is at least the cut-off and its upper side is open
    assert outcome.p99_ms.estimate >= 12_000 and outcome.p99_ms.high is None
    assert outcome.p50_ms.estimate == 5.0 and outcome.p50_ms.high == 5.0


def test_every_read_answered_keeps_the_plain_order_statistic_interval():
    answered = [("200", float(ms % 10 + 1), 1.0) for ms in range(1000)]
    outcome = centre.crud_outcome(samples("crud", answered), rate=100.0, window_s=10.0, cutoff_s=2.0)
    assert outcome.p99_ms == intervals.quantile([r[1] for r in answered], 0.99)


def test_goodput_counts_answers_in_time_that_ended_inside_the_window():
    slo = SloConfig(ai_answer_ms=1000)
    asked = [("200", 500.0, 5.0)] * 8 + [("200", 1500.0, 6.0)] * 2 + [("200", 500.0, 10.5)] + [("429", 3.0, 2.0)] * 5
    outcome = centre.ai_outcome(samples("ai", asked), rate=2.0, window_s=10.0, slo=slo)
    assert outcome.goodput_rps.n == 8 and outcome.goodput_rps.estimate == pytest.approx(0.8)
    assert outcome.status_mix == {"200": 11, "429": 5, "unanswered": 4}
    assert outcome.refusal_p99_ms.estimate == 3.0 and outcome.answer_p50_ms.estimate == 500.0


def test_an_arm_lasts_for_the_planned_reads_but_never_less_than_the_minimum():
    plan = load_config().plan
    assert centre.arm_seconds(plan, plan.crud_samples / 5) == max(plan.min_arm_s, 5)
    assert centre.arm_seconds(plan, 1e6) == plan.min_arm_s


def test_the_arm_with_no_ai_lasts_for_its_own_larger_sample():
    plan = load_config().plan
    rate = plan.crud_samples / plan.min_arm_s
    assert plan.alone_samples > plan.crud_samples
    assert centre.arm_seconds(plan, rate) == plan.min_arm_s
    assert centre.arm_seconds(plan, rate, alone=True) == pytest.approx(plan.alone_samples / rate)


def test_ai_places_follow_workers_and_bulkhead():
    svc = load_config().services
    assert centre.ai_places(svc) == svc.web_workers * (svc.ai_bulkhead or svc.web_threads // 2)


def test_in_flight_ai_is_read_from_the_apis_gauge():
    text = ('http_requests_in_progress{framework="flask",method="POST",route="/ai/title"} 2.0\n'
            'http_requests_in_progress{framework="flask",method="GET",route="/metrics"} 1.0\n')
    assert sum(float(v) for _, v in centre._IN_PROGRESS.findall(text)) == 2.0


def test_past_capacity_a_guarded_arm_lasts_for_the_planned_refusals():
    plan = load_config().plan
    refused = centre.expected_refusals_rps("on", 2.5, 20.0)
    assert refused == 30.0
    assert centre.arm_seconds(plan, 1e6, refused) == max(plan.min_arm_s, plan.refusal_samples / 30.0)
    # A slow capacity reading plans few refusals a second, and so a long arm: max_arm_s caps it.
    assert centre.arm_seconds(plan, 1e6, 1.0) == plan.max_arm_s < plan.refusal_samples / 1.0
    # Without the guard, and at or below capacity, nothing is refused by design: the reads set the length.
    assert centre.expected_refusals_rps("off", 2.5, 20.0) == 0.0 == centre.expected_refusals_rps("on", 1.0, 20.0)


def test_an_arm_records_the_hypervisor_steal_on_the_service_cpus(tmp_path) -> None:
    import os
    import time

    from bench.serverstats import TreeSampler, steal_ticks

    stat = Path("/proc/stat")
    if not stat.exists():
        pytest.skip("/proc/stat is Linux's")
    cpus = tuple(sorted(os.sched_getaffinity(0)))[:1]
    assert steal_ticks(cpus) is not None and steal_ticks(cpus) >= 0
    sampler = TreeSampler({"runner": os.getpid()}, interval_s=0.1, cpus=cpus).start()
    time.sleep(0.3)
    host = sampler.stop()["host"]
    assert host["steal_s"] >= 0 and 0 <= host["steal_share"] <= 1
    assert "host" not in TreeSampler({"runner": os.getpid()}, interval_s=0.1).start().stop()  # no CPUs: not read


def capacity(rps: float) -> AICapacity:
    return AICapacity(clients=8, window_s=4.0, answers_per_window=[round(rps * 4)] * 3,
                      latency_p50_ms_per_window=[100.0] * 3, stable=True, rps=intervals.per_second(round(rps * 12), 12))


def test_the_naive_service_is_offered_multiples_of_the_higher_capacity_reading():
    record = ConfigResult(framework="django", mode="remote", ai_capacity=capacity(5.0),
                          ai_capacity_after=capacity(10.5))
    assert centre.naive_capacity_rps(record) == pytest.approx(10.5)
    record.ai_capacity_after = None
    assert centre.naive_capacity_rps(record) == pytest.approx(5.0)
    assert centre.naive_capacity_rps(ConfigResult(framework="django", mode="remote")) == 0.0
