"""bench.report: every section from a full Run, and a report still written when parts are missing."""

from pathlib import Path

from runs import PROFILE, crud, make_run

from bench import model
from bench.cli import main
from bench.report import write_report

SECTIONS = ("AI at and past capacity beside ordinary traffic", "Capacities", "Who copes best",
            "The original study's claims", "Memory", "Compass figures", "Method", "Failures")


def test_report_has_every_section_and_chart(tmp_path):
    text = write_report(make_run(), tmp_path).read_text()
    first = "\n".join(text.splitlines()[:6])
    assert "synthetic" in first and "tiny" in first and "tiny-random" in first
    assert "At capacity one AI request took" in text
    assert "Words per text sent to the AI routes: min 40, median 470, p90 1,000, max 2,900 (n=120)" in text
    for heading in SECTIONS:
        assert f"## {heading}" in text, heading
    for png in ("crud_p99_against_ai.png", "idle_memory.png"):
        assert (tmp_path / png).stat().st_size > 5000
        assert f"]({png})" in text


def test_the_centre_states_starved_reads_and_broken_promises_with_intervals(tmp_path):
    text = write_report(make_run(), tmp_path).read_text()
    starving = next(line for line in text.splitlines()
                    if line.startswith("- flask inprocess, guard off, AI at 2.5x: CRUD p99 beside AI"))
    assert "**slower**" in starving and "n=1,000 against" in starving and "120 of 1,000 reads unanswered" in starving
    assert "- flask inprocess, guard off, AI at 2.5x: every read answered 200: **broken**" in text
    assert "| flask | off | 2.5x |" in text and "504: " in text
    # Every percentile in the centre's table carries its interval and n.
    row = next(line for line in text.splitlines() if line.startswith("| fastapi | on | 1x |"))
    assert row.count(" n=") >= 4
    assert row.endswith("| 0.90 |")  # the service's CPU over the window
    # The goodput share is shown with its interval for every guarded config, and judged by no verdict here.
    shares = [line for line in text.splitlines() if line.startswith("- ") and ": AI goodput " in line]
    assert len(shares) == sum(1 for c in make_run().configs if any(a.guard == "on" and a.ai for a in c.arms))
    assert all(" n=" in line and "guard on" in line for line in shares)
    assert "AI goodput at least" not in text


def test_the_capacities_show_the_reading_after_the_arms_where_there_was_one(tmp_path):
    run = make_run()
    checked = run.config("django", "remote")
    checked.ai_capacity_after = checked.ai_capacity.model_copy(update={"answers_per_window": [17, 19]})
    lines = write_report(run, tmp_path).read_text().splitlines()
    assert next(line for line in lines if line.startswith("| django | remote |")).endswith("(17, 19) |")
    assert next(line for line in lines if line.startswith("| flask | remote |")).endswith("| — |")


def test_claims_leads_memory_and_method_come_from_the_run(tmp_path):
    text = write_report(make_run(), tmp_path).read_text()
    assert "*Flask uses the least memory* — **CONFIRMED**" in text
    assert "inprocess: highest AI capacity: **fastapi**" in text
    assert "| flask | inprocess | 600 | — | 420 | 90 MiB (2 workers) |" in text  # (600 - 420) / 2 workers
    assert "CPU [0]" in text and "CPU [1]" in text and "wall time 14.0 min against a budget of 15.0 min" in text
    assert "x1.25 and 0 ms (latency)" in text and "gRPC hop p50" in text


def test_report_survives_a_failed_config_no_compass_and_an_interrupted_run(tmp_path):
    run = make_run(compass=False)
    broken = run.config("django", "remote")
    broken.arms, broken.ai_capacity, broken.idle_memory = [], None, {}
    broken.failure = "the django API did not become ready within 240 s\nlog tail..."
    run.failures.append(model.Failure(where="django/remote", message="start-up failed"))
    run.interrupted = True
    text = write_report(run, tmp_path).read_text()
    assert "- django/remote: the django API did not become ready within 240 s" in text
    assert "- django/remote: start-up failed" in text
    assert "Not measured in this run." in text and "interrupted" in text


def test_a_quick_run_with_few_reads_says_its_p99s_are_open(tmp_path):
    run = make_run(profile_name="quick", modes=("inprocess",))
    for config in run.configs:
        for arm in config.arms:
            arm.crud = crud(2.0, n=120)
    text = write_report(run, tmp_path).read_text()
    assert "too few reads for a p99 with both bounds" in text and "…)" in text
    assert "`python -m bench run --quick`" in text


def test_a_run_without_ai_draws_no_load_chart(tmp_path):
    text = write_report(make_run({"flask": PROFILE["flask"]}, modes=("off",)), tmp_path).read_text()
    assert not (tmp_path / "crud_p99_against_ai.png").exists() and "crud_p99_against_ai.png" not in text
    assert "## Who copes best" in text


def test_report_command_reads_a_result_file_and_refuses_other_json(tmp_path, capsys):
    path = tmp_path / "result.json"
    model.save(make_run(), path)
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "report.md").exists()
    (tmp_path / "other.json").write_text('{"run_id": "x"}')
    assert main(["report", str(tmp_path / "other.json")]) == 2
    assert "is not a benchmark result" in capsys.readouterr().err


def test_the_schema_file_is_the_generated_one(capsys):
    committed = (Path(__file__).resolve().parents[2] / "bench" / "result.schema.json").read_text()
    assert committed == model.schema_text(), "run: python -m bench schema > bench/result.schema.json"
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == committed
