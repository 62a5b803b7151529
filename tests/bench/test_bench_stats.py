import csv
import gzip

import pytest

from bench.k6run import read_samples, parse_summary
from bench.stats import aggregate, interval_of, value_of


def test_aggregate_medians_and_flags_disagreeing_trials():
    trials = [{"throughput_rps": v, "latency_ms": {"all": {"p99": 10.0}}} for v in (10.0, 10.5, 12.0)]
    agg = aggregate(trials, spread_flag=0.10)
    assert agg["figures"]["throughput_rps"]["median"] == 10.5
    assert agg["figures"]["throughput_rps"]["spread"] == pytest.approx(2.0 / 10.5)
    assert agg["disagree"] == ["throughput_rps"] and agg["flagged"]
    calm = aggregate([{"throughput_rps": 10.0}, {"throughput_rps": 10.4}], spread_flag=0.10)
    assert not calm["flagged"]
    assert not aggregate([{"throughput_rps": 10.0}], 0.0)["flagged"]  # one trial cannot disagree


def trend(p99: float, count: int) -> dict:
    return {"type": "trend", "values": {"avg": p99 / 2, "min": 0.1, "med": p99 / 3, "max": p99 * 2, "p(50)": p99 / 3,
                                        "p(90)": p99 / 2, "p(95)": p99 * 0.9, "p(99)": p99, "count": count}}


def rate(value: float, total: int) -> dict:
    passes = round(value * total)
    return {"type": "rate", "values": {"rate": value, "passes": passes, "fails": total - passes}}


def test_parse_summary_splits_by_kind_and_op_and_uses_the_window_length():
    summary = {"metrics": {
        "http_reqs{target:flask}": {"type": "counter", "values": {"count": 100, "rate": 9.0}},
        "iterations": {"type": "counter", "values": {"count": 95, "rate": 9.0}},
        "dropped_iterations": {"type": "counter", "values": {"count": 5, "rate": 0.5}},
        "http_req_duration{target:flask}": trend(300.0, 100),
        "http_req_duration{kind:crud}": trend(20.0, 80),
        "http_req_duration{kind:ai}": trend(900.0, 20),
        "http_req_duration{op:title}": trend(950.0, 5),
        "http_req_duration{op:list}": {"type": "trend", "values": {"count": 0}},
        "http_req_failed{target:flask}": rate(0.02, 100),
        "http_req_failed{kind:ai}": rate(0.1, 20),
        "http_req_failed{op:title}": rate(0.2, 5),
    }}
    window = parse_summary(summary, target_name="flask", rate=10.0, duration_s=10.0)
    assert window["requests"] == 100 and window["throughput_rps"] == 10.0
    assert window["goodput_rps"] == pytest.approx(9.8)
    assert window["dropped_fraction"] == pytest.approx(0.05)
    assert window["latency_ms"]["all"]["p99"] == 300.0 and window["latency_ms"]["crud"]["p50"] == pytest.approx(20 / 3)
    assert window["errors"] == {"all": 0.02, "ai": 0.1}
    assert window["ops"]["latency_ms"].keys() == {"title"}  # an op without samples is left out, not zero
    assert window["ops"]["error_rate"]["title"] == 0.2


def test_iterations_cut_off_at_the_end_are_counted_as_unfinished():
    summary = {"metrics": {
        "iterations": {"type": "counter", "values": {"count": 30, "rate": 3.0}},
        "dropped_iterations": {"type": "counter", "values": {"count": 2, "rate": 0.2}},
    }}
    window = parse_summary(summary, target_name="flask", rate=4.0, duration_s=10.0)
    assert window["unfinished_iterations"] == 8 and window["unfinished_fraction"] == pytest.approx(0.2)


def write_k6_csv(path, rows):
    header = ["metric_name", "timestamp", "metric_value", "check", "error", "error_code", "expected_response", "group",
              "method", "name", "proto", "scenario", "service", "status", "subproto", "tls_version", "url",
              "extra_tags", "metadata"]
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        for metric, value, ok, status, tags in rows:
            writer.writerow({"metric_name": metric, "metric_value": value, "expected_response": ok, "status": status,
                             "extra_tags": tags, "timestamp": 1})


def test_samples_from_k6_csv_leave_out_setup_and_give_intervals_pooled_over_trials(tmp_path):
    trials, files = [], []
    for trial in range(2):
        rows = [("http_req_duration", 50.0, "true", 201, "kind=setup&op=setup")]  # seeding: not the scenario's
        rows += [("http_req_duration", 1.0 + i, "true", 200, "target=flask&op=list&kind=crud") for i in range(300)]
        rows += [("http_req_duration", 500.0 + i, "false" if i < 10 else "true", 500 if i < 10 else 200,
                  "op=title&kind=ai&target=flask") for i in range(100)]
        rows += [("http_reqs", 1, "true", 200, "target=flask&op=list&kind=crud"), ("ai_text_words", 430, "", "", "")]
        path = tmp_path / f"t{trial}.csv.gz"
        write_k6_csv(path, rows)
        samples = read_samples(path, "flask")
        assert len(samples.duration_ms["all"]) == 400 and len(samples.duration_ms["crud"]) == 300
        assert samples.failed == {"all": 10, "crud": 0, "ai": 10} and samples.text_words == [430.0]
        assert samples.statuses["ai"] == {"500": 10, "200": 90}
        files.append(samples)
        trials.append({"duration_s": 10.0, "throughput_rps": 40.0, "server": {"api": {"pss_peak_mib": 100.0 + trial}}})
    agg = aggregate(trials, 0.10, files)
    p50 = interval_of(agg, "crud_p50_ms")
    assert p50.n == 600 and p50.low <= 150.5 <= p50.high and value_of(agg, "crud_p50_ms") == pytest.approx(150.5)
    assert interval_of(agg, "ai_error_rate").estimate == pytest.approx(0.1)
    assert interval_of(agg, "throughput_rps").estimate == pytest.approx(800 / 20.0)
    memory = interval_of(agg, "api_pss_peak_mib")
    assert memory.n == 2 and memory.estimate == 100.5 and memory.low < 100.0
    assert agg["status_mix"]["ai"]["500"] == 20
    assert interval_of(aggregate(trials, 0.10), "crud_p50_ms") is None  # without samples: no pooled interval
