import re

import pytest
from bench_fixture import PROFILE, make_result

from bench.claims import compare_one, judge_all
from bench.cli import main
from bench.result_reader import ResultReader
from bench.intervals import Interval
from bench.report import write_report


def test_report_has_every_section_and_chart(tmp_path):
    path = write_report(make_result(), tmp_path)
    text = path.read_text()
    first = "\n".join(text.splitlines()[:6])
    assert "synthetic" in first and "light" in first and "meaningless" in first
    for heading in ("What AI does to each framework", "original study's claims", "Interference", "Latency vs offered load",
                    "Dynamic batching", "Memory", "Method"):
        assert heading in text
    for png in ("ai_tax.png", "interference.png", "latency_vs_load.png", "memory.png", "batching.png"):
        assert (tmp_path / png).stat().st_size > 5000
        assert f"]({png})" in text
    assert "CPU [0]" in text and "CPU [1]" in text  # pinning is stated in the method
    assert "Words per text sent to the AI routes: min 40, median 470, p90 1000, max 2900 (n=120)" in text


def test_claims_follow_the_numbers():
    verdicts = judge_all(ResultReader(make_result()))
    assert [v.verdict for v in verdicts] == ["CONFIRMED", "CONFIRMED", "CONFIRMED"]
    # Swap Flask and Django: Flask is now the biggest and the slowest, so claims 2 and 3 must fall.
    flipped = dict(PROFILE, flask=PROFILE["django"], django=PROFILE["flask"])
    verdicts = judge_all(ResultReader(make_result(flipped)))
    assert [v.verdict for v in verdicts] == ["CONFIRMED", "REFUTED", "REFUTED"]
    assert "off: fails — API PSS flask 152 MiB [148, 155] n=3" in verdicts[1].reason


def test_fastapi_claim_fails_when_it_is_not_fastest():
    slow_fastapi = dict(PROFILE, fastapi=(120.0, 3.0, 2.0))
    verdict = judge_all(ResultReader(make_result(slow_fastapi)))[0]
    assert verdict.verdict == "REFUTED" and "throughput part fails" in verdict.reason


def iv(low: float, high: float | None) -> Interval:
    return Interval(low if high is None else (low + high) / 2, low, high, 100, "test")


@pytest.mark.parametrize(
    ("values", "highest", "state"),
    [
        ({"a": iv(9, 11), "b": iv(4, 6)}, True, "holds"),
        ({"a": iv(9, 11), "b": iv(10, 12)}, True, "tie"),  # overlapping intervals: cannot tell apart
        ({"a": iv(4, 6), "b": iv(9, 11)}, True, "fails"),
        ({"a": iv(4, 6), "b": iv(9, 11)}, False, "holds"),
        ({"a": iv(9, 11), "b": iv(4, 6), "c": iv(10, 12)}, True, "tie"),  # must be separated from every other
        ({"a": iv(4, None), "b": iv(9, 11)}, True, "tie"),  # an open upper side could lie above b
        ({"a": None, "b": iv(9, 11)}, True, None),
        ({"a": iv(9, 11)}, True, None),
    ],
)
def test_compare_one_tells_holds_fails_and_ties_on_intervals(values, highest, state):
    assert compare_one(values, "a", highest) == state


def test_memory_within_the_intervals_is_a_tie_not_a_verdict():
    close = {fw: (100.0 + i, 1.0, rate) for i, (fw, (_, _, rate)) in enumerate(PROFILE.items())}
    verdict = judge_all(ResultReader(make_result(close)))[1]
    assert verdict.verdict == "INCONCLUSIVE" and "tie" in verdict.reason


def test_overlapping_capacity_brackets_do_not_rank_throughput():
    result = make_result()
    for config in result["configs"]:
        # A coarse search: only the doubling steps, so every bracket is [rate, 2 x rate) and they overlap.
        config["saturation"]["ai_mixed"]["steps"].pop()
    verdict = judge_all(ResultReader(result))[0]
    assert verdict.verdict == "INCONCLUSIVE" and "throughput part tie" in verdict.reason


def test_a_search_that_never_missed_the_slo_does_not_rank_throughput():
    result = make_result()
    for config in result["configs"]:
        config["saturation"]["ai_mixed"]["capped"] = True
    verdict = judge_all(ResultReader(result))[0]
    assert verdict.verdict == "INCONCLUSIVE"
    assert "throughput part not measured" in verdict.reason and "never missed the SLO" in verdict.reason


def test_claims_without_data_are_inconclusive():
    result = make_result()
    result["configs"] = [c for c in result["configs"] if c["framework"] == "flask"]
    assert {v.verdict for v in judge_all(ResultReader(result))} == {"INCONCLUSIVE"}


def test_report_shows_intervals_and_sample_counts_and_who_leads(tmp_path):
    text = write_report(make_result(), tmp_path).read_text()
    assert "## Which framework leads" in text
    assert re.search(r"\| inprocess \| CRUD p50 during the AI mix \(ms\) \| \*\*flask\*\* leads \| flask [\d.]+ \[[\d.]+, [\d.]+\] n=1200", text)
    assert re.search(r"\| API peak PSS \(MiB\) \| \*\*flask\*\* leads", text)
    # Percentiles in the tables carry their interval and n.
    assert re.search(r"\| flask \| off \| crud \| 40 \|[^\n]*\[[\d.]+, [\d.]+\] n=1200", text)


def test_a_framework_does_not_lead_when_intervals_overlap(tmp_path):
    close = {fw: (100.0 + i, 1.0, rate) for i, (fw, (_, _, rate)) in enumerate(PROFILE.items())}
    text = write_report(make_result(close), tmp_path).read_text()
    assert re.search(r"\| off \| API peak PSS \(MiB\) \| cannot tell apart \| flask 101", text)


def test_report_numbers_come_from_the_result(tmp_path):
    result = make_result()
    text = write_report(result, tmp_path).read_text()
    # Batching: 3.0 served/s batched vs 1.0 unbatched in the fixture.
    assert "**3.00x**" in text
    # AI tax: in-process memory is 6x off in the fixture for every framework.
    assert len(re.findall(r"memory 6\.00x", text)) == 3


def test_report_command_writes_into_the_reports_dir(tmp_path):
    from bench import results

    results.save(make_result(), tmp_path / "result.json")
    assert main(["report", str(tmp_path / "result.json"), "--reports", str(tmp_path / "reports")]) == 0
    assert (tmp_path / "reports" / "fixture" / "report.md").exists()


def test_report_of_a_crud_only_run_has_no_ai_charts_but_still_renders(tmp_path):
    result = make_result()
    for config in result["configs"]:
        config["scenarios"].pop("ai_mixed")
        config["saturation"] = {}
    result["batching"] = None
    text = write_report(result, tmp_path).read_text()
    assert "ai_tax.png" not in text and "Method" in text
    assert (tmp_path / "interference.png").exists()


def test_tiny_models_are_not_called_the_real_architectures(tmp_path):
    result = make_result()
    result["metadata"]["models"]["model_profile"] = "tiny"
    first = "\n".join(write_report(result, tmp_path).read_text().splitlines()[:6])
    assert "miniature test models" in first and "real architectures and sizes with" not in first
