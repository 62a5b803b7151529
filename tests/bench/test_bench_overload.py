"""bench.overload: figures from per-request samples, the guard's promises judged on intervals, the table."""

from __future__ import annotations

import random

from bench import intervals, overload
from bench.k6run import Samples


def samples(crud_ms: list[float], ai: dict[str, list[float]], ended_s: float = 10.0) -> Samples:
    """Requests of a window that began at 0 s; the AI answers all ended at ended_s."""
    s = Samples()
    s.first_start_s = 0.0
    s.ended_s["ai"] = {status: [ended_s] * len(values) for status, values in ai.items()}
    s.duration_ms["crud"] = list(crud_ms)
    s.statuses["crud"] = {"200": len(crud_ms)}
    s.statuses["ai"] = {status: len(values) for status, values in ai.items()}
    s.status_ms["ai"] = {status: list(values) for status, values in ai.items()}
    return s


def report_of(plan: overload.Plan, *rows: tuple[str, str, dict]) -> dict:
    """A run's report around the given (framework, mode, figures) rows, guard on."""
    return {
        "machine": "test", "date": "today", "commit": "abc", "plan": {**plan.__dict__},
        "services": {"web_workers": 2, "web_threads": 4, "model_profile": "tiny", "model_source": "synthetic",
                     "inference_timeout_s": 30},
        "request_texts": None,
        "configs": [{"framework": framework, "mode": mode, "guard": "on", "figures": figures,
                     "verdicts": overload.verdicts(figures, plan)} for framework, mode, figures in rows],
    }


def test_a_guarded_service_keeps_its_promises_with_enough_samples() -> None:
    rng = random.Random(1)
    plan = overload.Plan(knee_s=20, overload_s=45)
    knee = samples([], {"200": [800.0] * 40})  # 2 answers/s at the knee
    crud = [rng.uniform(2, 30) for _ in range(450)]
    loaded = samples(crud, {"200": [900.0] * 90, "429": [rng.uniform(1, 10) for _ in range(2000)]})
    figures = overload.summarise([knee], [loaded], plan, deadline_ms=30_000)
    assert figures["crud_p99_ms"]["n"] == 450 and figures["crud_p99_ms"]["high"] is not None
    assert figures["ai_status_mix"] == {"200": 90, "429": 2000} and figures["ai_504"] == 0
    verdicts = overload.verdicts(figures, plan)
    assert verdicts["crud_p99"] == "kept" and verdicts["refusal_p99"] == "kept"
    assert verdicts["only_200_429_503"] == "kept" and verdicts["crud_all_200"] == "kept"
    assert verdicts["goodput"] == "cannot tell"  # 90 vs 40 answers: the ratio's interval holds 0.8 and 1

    many = overload.summarise([samples([], {"200": [800.0] * 800})], [samples(crud, {"200": [900.0] * 1700})], plan,
                              deadline_ms=30_000)
    assert overload.verdicts(many, plan)["goodput"] == "kept"  # ratio 0.94 of thousands of answers: above 0.8


def test_a_naive_service_breaks_them_and_answers_too_late_count_for_nothing() -> None:
    plan = overload.Plan(knee_s=20, overload_s=45)
    knee = samples([], {"200": [800.0] * 400})
    crud = [20_000.0] * 400 + [5.0] * 50
    loaded = samples(crud, {"200": [45_000.0] * 300 + [900.0] * 10, "504": [30_000.0] * 20})
    figures = overload.summarise([knee], [loaded], plan, deadline_ms=30_000)
    assert figures["goodput_rps"]["estimate"] == 10 / 45  # the 300 late answers missed the deadline
    verdicts = overload.verdicts(figures, plan)
    assert verdicts["crud_p99"] == "broken" and verdicts["goodput"] == "broken"
    assert verdicts["only_200_429_503"] == "broken" and verdicts["refusal_p99"] == "no refusals"


def test_answers_ending_after_the_window_are_not_goodput() -> None:
    plan = overload.Plan(overload_s=45)
    late = samples([5.0] * 450, {"200": [900.0] * 30}, ended_s=50.0)
    assert overload.summarise([samples([], {})], [late], plan, 30_000)["goodput_rps"]["estimate"] == 0


def test_knee_answers_count_only_what_ended_inside_the_window() -> None:
    plan = overload.Plan(knee_s=20, overload_s=45)
    knee = samples([], {"200": [800.0] * 30}, ended_s=25.0)  # let finish after the window: not capacity
    assert overload.summarise([knee], [samples([], {})], plan, 30_000)["knee_rps"]["n"] == 0


def test_knee_answers_count_from_the_last_client_s_arrival() -> None:
    plan = overload.Plan(knee_s=20, knee_arrival_s=2)
    arriving = samples([], {"200": [800.0] * 10}, ended_s=1.5)  # answered while the clients still arrived
    assert overload.knee_answers(arriving, plan) == 0
    assert overload.knee_answers(samples([], {"200": [800.0] * 10}, ended_s=21.5), plan) == 10
    assert overload.knee_answers(arriving, overload.Plan(knee_s=20, knee_arrival_s=0)) == 10


def test_too_few_reads_cannot_bound_a_p99() -> None:
    plan = overload.Plan(overload_s=45)
    figures = overload.summarise([samples([], {})], [samples([5.0] * 100, {"200": [1.0]})], plan, 30_000)
    verdicts = overload.verdicts(figures, plan)
    assert verdicts["crud_p99"] == "cannot tell"
    assert verdicts["crud_all_200"] == "broken"  # 100 of 450 offered reads were sent: the rest waited for a reader


def test_the_table_names_every_config_and_its_intervals() -> None:
    plan = overload.Plan(overload_s=45)
    figures = overload.summarise([samples([], {"200": [1.0] * 20})], [samples([5.0] * 450, {"200": [1.0] * 30})],
                                 plan, 30_000)
    figures["workers_restarted"] = 0
    report = report_of(plan, ("flask", "inprocess", figures))
    table = overload.markdown(report)
    assert "| flask | inprocess | on |" in table and "n=450" in table and "template text" in table
    assert "| 0.67 [" in table  # goodput / knee: 30 answers in 45 s against 20 in 20 s
    assert "; after" not in table and "| 30; 20 |" in table  # answers per window: one overload, one knee
    del report["plan"]["rounds"]  # a run from before the rounds
    figures["knee_after_rps"] = intervals.per_second(10, 20.0).to_dict()
    assert "; after 0.50 [" in overload.markdown(report) and "spanning the ratio" in overload.markdown(report)


def test_the_table_says_where_the_services_and_k6_ran() -> None:
    report = report_of(overload.Plan())
    assert "services and k6 unpinned" in overload.markdown(report)
    report["pinning"] = {"service_cpus": [0], "k6_cpus": [1], "pinned": True, "note": "2 cores"}
    assert "CPUs: services on [0], k6 on [1]." in overload.markdown(report)



def test_rounds_pool_their_windows_and_drift_between_them_widens_the_share() -> None:
    plan = overload.Plan(knee_s=20, overload_s=40)
    knee = samples([], {"200": [800.0] * 700})
    loads = [samples([5.0] * 400, {"200": [900.0] * 1300}) for _ in range(3)]
    steady = overload.summarise([knee], loads, plan, 30_000, repeats=[knee, knee, knee])
    assert steady["goodput_answers_per_window"] == [1300] * 3 and steady["knee_answers_per_reading"] == [700] * 4
    assert steady["goodput_rps"]["n"] == 3900 and steady["knee_rps"]["n"] == 2800 and steady["crud_requests"] == 1200
    share = overload.goodput_of_knee(steady, plan)
    assert round(share.estimate, 3) == 0.929 and overload.verdicts(steady, plan)["goodput"] == "kept"
    # The same share while the knee swung by 20 % between its readings: the windows' spread widens the interval.
    swinging = overload.summarise([knee], loads, plan, 30_000,
                                  repeats=[samples([], {"200": [800.0] * n}) for n in (560, 840, 700)])
    wide = overload.goodput_of_knee(swinging, plan)
    assert wide.estimate == share.estimate and wide.low < 0.8 < share.low
    assert overload.verdicts(swinging, plan)["goodput"] == "cannot tell"


def test_every_round_must_send_its_reads() -> None:
    plan = overload.Plan(overload_s=40)
    knee = samples([], {"200": [800.0] * 700})
    three = [samples([5.0] * 400, {"200": [900.0] * 1300}) for _ in range(3)]
    assert overload.verdicts(overload.summarise([knee], three, plan, 30_000), plan)["crud_all_200"] == "kept"
    two_full = three[:2] + [samples([5.0] * 200, {"200": [900.0] * 1300})]
    assert overload.verdicts(overload.summarise([knee], two_full, plan, 30_000), plan)["crud_all_200"] == "broken"


def test_a_run_from_before_the_rounds_still_renders_with_its_knee_after() -> None:
    plan = overload.Plan(knee_s=20, overload_s=45)
    figures = overload.summarise([samples([], {"200": [800.0] * 800})], [samples([], {"200": [900.0] * 1700})],
                                 plan, 30_000)
    for key in ("goodput_answers_per_window", "knee_answers_per_reading"):
        figures.pop(key)
    figures["knee_after_rps"] = intervals.per_second(400, 20.0).to_dict()
    share = overload.goodput_of_knee(figures, plan)
    assert round(share.estimate, 2) == 1.26 and share.low < 0.94 < 1.89 < share.high  # spans both readings


def test_the_knee_is_judged_at_its_last_level_whatever_the_first_read() -> None:
    plan = overload.Plan(knee_s=20, overload_s=40)
    places_alone, twice = samples([], {"200": [800.0] * 620}), samples([], {"200": [800.0] * 530})
    loads = [samples([5.0] * 400, {"200": [900.0] * 960}) for _ in range(3)]
    figures = overload.summarise([places_alone, twice], loads, plan, 30_000, repeats=[twice, twice, twice])
    assert figures["knee_answers_per_level"] == [620, 530] and figures["knee_answers_per_reading"] == [530] * 4
    figures.update(knee_clients_per_level=[4, 8], knee_judged_clients=8, capacity_guard_off_rps=None,
                   workers_restarted=0)
    table = overload.markdown(report_of(plan, ("django", "remote", figures)))
    assert "| 960, 960, 960; 530, 530, 530, 530 (places alone: 620) |" in table
    assert "guard off and on" in table and "the better of" not in table


def test_the_table_says_how_the_ai_clients_picked_their_tasks() -> None:
    report = report_of(overload.Plan())
    assert "each request's at random; Retry-After honoured" in overload.markdown(report)
    del report["plan"]["ai_task_pick"]  # a run from before the choice
    assert "title, summarize, sentiment in turn;" in overload.markdown(report)


def test_the_knee_reads_beside_the_overload_s_reader(monkeypatch) -> None:
    asked: list[dict] = []
    monkeypatch.setattr(overload, "_k6", lambda *args, **kwargs: asked.append(kwargs))
    overload._knee(None, None, "knee-8", overload.Plan(crud_rate=10), None, 8)
    overload._knee(None, None, "knee-8", overload.Plan(crud_rate=10, knee_reads=False), None, 8)
    assert [(a["ai_clients"], a["crud_rate"]) for a in asked] == [(8, 10), (8, 0)]
    report = report_of(overload.Plan(crud_rate=10))
    assert "arriving over 2 s, answers counted from then), beside the overload's reader (10 reads/s):" in (
        overload.markdown(report))
    del report["plan"]["knee_reads"]  # a run from before the knee had reads beside it
    assert "answers counted from then), no reads:" in overload.markdown(report)
