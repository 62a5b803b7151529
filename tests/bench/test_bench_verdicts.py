"""bench.verdicts: every verdict flips when the numbers cross its objective or margin, and says "cannot tell" between."""

import dataclasses

import pytest
from runs import JUDGEMENT, PROFILE, Profile, crud, make_run

from bench import intervals
from bench.config import JudgementConfig, SloConfig
from bench.intervals import Interval
from bench.verdicts import at_least, goodput_figure, goodput_share, judging, verdicts

SLO = SloConfig()


def iv(low: float | None, high: float | None, n: int = 1000) -> Interval:
    known = [v for v in (low, high) if v is not None]
    return Interval(sum(known) / len(known), low, high, n, "test")


def told(run) -> dict[str, str]:
    return {v.key: v.state for v in verdicts(run, JUDGEMENT, SLO)}


def guarded_arm(run, framework="flask", mode="inprocess", guard="on", multiple=2.5):
    return run.config(framework, mode).arm(guard, multiple)


@pytest.mark.parametrize(("low", "high", "state"), [
    (100, 190, "kept"),
    (190, 250, "kept"),  # an objective is a fixed line: the whole interval inside it keeps it, with no margin
    (320, 400, "broken"),
    (251, 300, "broken"),  # the whole interval past 250 ms
    (200, 300, "cannot tell"),  # the interval straddles the objective
    (200, None, "cannot tell"),  # too few reads for an upper bound
])
def test_crud_p99_promise(low, high, state):
    run = make_run()
    guarded_arm(run).crud.p99_ms = iv(low, high)
    assert told(run)["guard/flask/inprocess/on/crud_p99"] == state


def test_every_read_answered_promise_breaks_on_one_unanswered_or_failed_read():
    run = make_run()
    assert told(run)["guard/flask/inprocess/on/reads_answered"] == "kept"
    guarded_arm(run).crud = crud(2.0, unanswered=1)
    assert told(run)["guard/flask/inprocess/on/reads_answered"] == "broken"
    guarded_arm(run).crud = crud(2.0, non_200=1)
    assert told(run)["guard/flask/inprocess/on/reads_answered"] == "broken"


@pytest.mark.parametrize(("mix", "state"), [
    ({"200": 100, "429": 50, "503": 3}, "kept"),
    ({"200": 100, "504": 1}, "broken"),
    ({"200": 100, "unanswered": 1}, "broken"),
    ({"200": 100, "500": 2}, "broken"),
])
def test_ai_statuses_promise(mix, state):
    run = make_run()
    guarded_arm(run).ai.status_mix = mix
    assert told(run)["guard/flask/inprocess/on/ai_statuses"] == state


@pytest.mark.parametrize(("low", "high", "state"), [(5, 20, "kept"), (30, 50, "kept"), (51, 90, "broken"),
                                                    (45, 90, "cannot tell"), (30, None, "cannot tell")])
def test_refusal_p99_promise(low, high, state):
    run = make_run()
    guarded_arm(run).ai.refusal_p99_ms = iv(low, high)
    assert told(run)["guard/flask/inprocess/on/refusal_p99"] == state


@pytest.mark.parametrize(("served", "state"), [(1900, "kept"), (1750, "kept"), (1700, "cannot tell"),
                                               (1550, "cannot tell"), (1400, "broken"), (1000, "broken")])
def test_goodput_share_against_the_capacity_counts(served, state):
    # Capacity 1,600 answers in 160 s; the arm's 200 s would serve 2,000 at capacity, and the promise is 80 % of it.
    # 1,750 is 0.875 [0.817, 0.937]: kept. 1,700 is 0.85 [0.793, 0.911] and 1,550 0.775 [0.722, 0.832]: they
    # straddle 0.8. 1,400 is 0.70 [0.651, 0.753]: wholly under it.
    run = make_run()
    run.config("flask", "inprocess").ai_capacity.rps = intervals.per_second(1600, 160.0)
    guarded_arm(run).ai.goodput_rps = intervals.per_second(served, 200.0)
    guarded_arm(run).window_s = 200.0
    assert at_least(goodput_share(guarded_arm(run), run.config("flask", "inprocess")), 0.8) == state


@pytest.mark.parametrize(("after", "served", "state"), [(None, 1400, "broken"), (1600, 1400, "broken"),
                                                        (800, 1400, "cannot tell"), (1700, 1900, "kept")])
def test_goodput_share_against_the_capacity_before_and_after_the_arms(after, served, state):
    # Capacity 1,600 answers in 160 s before the arms. 1,400 answers in 200 s are 0.70 of it: broken, alone or with
    # the same reading after the arms. A host that slowed to half after the first reading (800 answers in 160 s)
    # pools to 0.93, but against each reading alone the share is 0.70 or 1.40: the interval spans both, so it cannot
    # tell. 1,900 in 200 s against 1,600 and 1,700 is kept against either.
    run = make_run()
    found = run.config("flask", "inprocess")
    found.ai_capacity.rps = intervals.per_second(1600, 160.0)
    if after is not None:
        found.ai_capacity_after = found.ai_capacity.model_copy(update={"rps": intervals.per_second(after, 160.0)})
    guarded_arm(run).ai.goodput_rps = intervals.per_second(served, 200.0)
    guarded_arm(run).window_s = 200.0
    assert at_least(goodput_share(guarded_arm(run), found), 0.8) == state
    shown = goodput_figure(found, SLO)
    assert ("after them" in shown) == (after is not None)


def test_the_guard_off_service_breaks_its_promises_past_capacity():
    states = told(make_run())
    for promise in ("crud_p99", "reads_answered", "ai_statuses"):
        assert states[f"guard/flask/inprocess/off/{promise}"] == "broken", promise


def test_the_goodput_share_is_shown_for_the_guarded_service_and_judged_by_no_verdict_of_the_run():
    # The run's arms bound the share too loosely to decide the promise; bench.overload judges it. The naive service's
    # queue outgrows an arm of some seconds, so its share would be a figure of the arm's length: not shown at all.
    run = make_run()
    assert not any(key.endswith("/goodput") for key in told(run))
    shown = goodput_figure(run.config("flask", "inprocess"), SLO)
    assert "guard on" in shown and "of the AI capacity" in shown


@pytest.mark.parametrize(("beside", "floor", "state"), [
    (iv(12, 14), 0, "slower"),  # 12 / 7.5 = 1.6 beyond the margin
    (iv(8, 9), 0, "cannot tell"),  # separated from [5, 7.5] but 8 / 7.5 < 1.25
    (iv(6, 8), 0, "cannot tell"),  # overlapping
    (iv(2, 3), 0, "faster"),
    (iv(12, 14), 25, "cannot tell"),  # 1.6 times the alone bound, but 4.5 ms more: under the floor
    (iv(33, 40), 25, "slower"),  # 33 - 7.5 = 25.5 ms, and 4.4 times
])
def test_interference_is_slower_only_beyond_the_latency_margin_and_floor(beside, floor, state):
    run = make_run()
    config = run.config("django", "remote")
    config.arm("on", 0).crud.p99_ms = iv(5, 7.5)
    config.arm("on", 1.0).crud.p99_ms = beside
    judgement = dataclasses.replace(JUDGEMENT, latency_floor_ms=float(floor))
    assert {v.key: v.state for v in verdicts(run, judgement, SLO)}["interference/django/remote/on/1x/crud_p99"] == state


def test_a_framework_leads_only_when_beyond_the_margin_from_every_other():
    run = make_run()
    key = "lead/inprocess/1x/on/crud_p99"
    assert told(run)[key] == "flask"
    # Still separated from Django, but by less than the latency margin: the run cannot tell.
    run.config("flask", "inprocess").arm("on", 1.0).crud.p99_ms = iv(11.0, 12.0)
    run.config("django", "inprocess").arm("on", 1.0).crud.p99_ms = iv(13.0, 14.0)
    assert told(run)[key] == "cannot tell"


def test_an_ai_capacity_lead_must_hold_against_both_readings_of_each_service():
    run = make_run()
    key = "lead/inprocess/ai_capacity"
    capacities = {fw: run.config(fw, "inprocess").ai_capacity for fw in run.frameworks}
    for framework, rps in (("flask", 1600), ("fastapi", 800), ("django", 800)):
        capacities[framework].rps = intervals.per_second(rps, 160.0)
    assert told(run)[key] == "flask"
    # Flask read again after its arms at the others' speed: pooled it is still 1.5 times theirs, but one of its
    # readings is not above them, and a lead must not rest on the reading the host happened to favour.
    run.config("flask", "inprocess").ai_capacity_after = capacities["flask"].model_copy(
        update={"rps": intervals.per_second(800, 160.0)})
    assert told(run)[key] == "cannot tell"
    assert "flask 7.50/s [4.66, 10.50] n=2,400" in next(v.evidence for v in verdicts(run, JUDGEMENT, SLO) if v.key == key)


def test_memory_is_told_apart_by_the_memory_margin_alone():
    run = make_run()
    key = "lead/off/idle_api_memory"
    assert told(run)[key] == "flask"
    run.config("fastapi", "off").idle_memory["api"].pss_mib = 104.0  # within 5 % of Flask's 100 MiB
    assert told(run)[key] == "cannot tell"


def test_the_claims_follow_the_numbers():
    claims = ("claim/fastapi_throughput_latency", "claim/flask_least_memory", "claim/django_most_memory_slowest")
    assert [told(make_run())[k] for k in claims] == ["CONFIRMED"] * 3
    # Swap Flask and Django: Flask is now the biggest and the slowest, so claims 2 and 3 fall.
    flipped = make_run(dict(PROFILE, flask=PROFILE["django"], django=PROFILE["flask"]))
    assert [told(flipped)[k] for k in claims] == ["CONFIRMED", "REFUTED", "REFUTED"]
    # Django and FastAPI within the memory margin in every mode: "most memory" cannot be told.
    close = make_run(dict(PROFILE, django=Profile(api_mib=122.0, crud_ms=4.0, ai_rps=6.0, crud_rps=300.0)))
    assert told(close)["claim/django_most_memory_slowest"] == "INCONCLUSIVE"


def test_a_claim_about_a_framework_the_run_lacks_is_inconclusive():
    run = make_run({"flask": PROFILE["flask"]})
    found = {v.key: v for v in verdicts(run, JUDGEMENT, SLO)}
    assert found["claim/fastapi_throughput_latency"].state == "INCONCLUSIVE"
    assert "needs fastapi" in found["claim/fastapi_throughput_latency"].evidence
    assert not [k for k in found if k.startswith("lead/")]  # nothing to compare one framework with


def test_keys_are_stable_and_unique():
    keys = [v.key for v in verdicts(make_run(), JUDGEMENT, SLO)]
    assert len(keys) == len(set(keys))
    assert keys == [v.key for v in verdicts(make_run(run_id="other"), JUDGEMENT, SLO)]


def test_a_run_of_an_unknown_profile_is_judged_by_the_default_objectives():
    run = make_run()
    run.metadata.profile = "custom"
    run.metadata.slo, run.metadata.judgement = {}, {}
    assert judging(run) == (SloConfig(), JudgementConfig())
    assert judging(make_run(profile_name="quick"))[0] == SloConfig()  # quick keeps the base [slo]
