import copy
import json

import jsonschema
import pytest
from bench_fixture import make_result, scaled

from bench import results
from bench.cli import main
from bench.compare import compare, format_table


def test_fixture_result_matches_the_schema():
    results.validate(make_result())


@pytest.mark.parametrize("drop", ["metadata", "configs", "run_id", "failures"])
def test_schema_rejects_a_result_without_a_required_part(drop):
    result = make_result()
    del result[drop]
    with pytest.raises(jsonschema.ValidationError):
        results.validate(result)


def test_schema_rejects_unknown_framework_and_bad_window():
    result = make_result()
    result["configs"][0]["framework"] = "rails"
    with pytest.raises(jsonschema.ValidationError):
        results.validate(result)
    result = make_result()
    del result["configs"][0]["scenarios"]["crud"]["trials"][0]["latency_ms"]
    with pytest.raises(jsonschema.ValidationError):
        results.validate(result)


def test_save_and_load_round_trip(tmp_path):
    result = make_result()
    path = tmp_path / "r" / "result.json"
    results.save(result, path)
    assert results.load(path) == json.loads(json.dumps(result))
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(SystemExit, match="not a benchmark result"):
        results.load(tmp_path / "junk.json")


def test_base_metadata_names_commit_packages_and_cpu():
    meta = results.base_metadata()
    assert meta["cpu_count"] >= 1 and meta["cpu_model"]
    assert meta["packages"]["flask"] != "not installed"


def test_compare_marks_only_changes_whose_intervals_separate():
    a = make_result()
    b = scaled(a, "fastapi", 1.5)
    rows = compare(a, b)
    tput = [r for r in rows if r["figure"] == "throughput_rps"]
    fast = [r for r in tput if r["framework"] == "fastapi"]
    slow = [r for r in tput if r["framework"] != "fastapi"]
    # The fixture's throughput intervals rest on ~1,200 requests: +50 % separates them.
    assert fast and all(r["change"] == pytest.approx(0.5) and r["separated"] and r["better"] for r in fast)
    assert slow and all(r["change"] == 0 and not r["separated"] for r in slow)
    table = format_table(rows, "a.json", "b.json")
    assert "+50.0%" in table and "! better" in table and "cannot be told apart" in table
    small = compare(a, scaled(a, "fastapi", 1.02))
    assert not any(r["separated"] for r in small if r["figure"] == "throughput_rps")  # +2 % is within the intervals


def test_compare_marks_a_separated_latency_rise_as_worse_and_never_a_change_without_intervals():
    a = make_result()
    b = copy.deepcopy(a)
    found = b["configs"][0]["scenarios"]["crud"]["aggregate"]["intervals"]["p99_ms"]
    for key in ("estimate", "low", "high"):
        found[key] *= 2
    row = next(r for r in compare(a, b) if r["figure"] == "p99_ms" and r["change"])
    assert row["separated"] and row["better"] is False
    b["configs"][0]["scenarios"]["crud"]["aggregate"]["figures"]["p99_ms"]["median"] *= 2
    for result in (a, b):
        result["configs"][0]["scenarios"]["crud"]["aggregate"].pop("intervals")
    row = next(r for r in compare(a, b) if r["figure"] == "p99_ms" and r["framework"] == "flask" and r["mode"] == "off"
               and r["scenario"] == "crud")
    assert not row["separated"]


def test_compare_command_prints_the_table(tmp_path, capsys):
    a, b = make_result(), scaled(make_result(), "django", 0.5)
    results.save(a, tmp_path / "a.json")
    results.save(b, tmp_path / "b.json")
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert "| django |" in out and "-50.0%" in out and "! worse" in out
