"""bench.compare: incomparable runs refused, only separated changes marked, differing verdicts exit 1."""

from runs import make_run, metadata

from bench import model
from bench.cli import main
from bench.compare import compare, interval_figures
from bench.intervals import Interval

P99_PATH = "configs/flask/inprocess/arms/on/1x/crud/p99_ms"


def saved(tmp_path, run, name):
    path = tmp_path / f"{name}.json"
    model.save(run, path)
    return str(path)


def test_two_equal_runs_agree_on_every_verdict_and_show_no_change(tmp_path, capsys):
    a, b = saved(tmp_path, make_run(), "a"), saved(tmp_path, make_run(run_id="again"), "b")
    assert main(["compare", a, b]) == 0
    out = capsys.readouterr().out
    assert "verdicts, all agree" in out and "changed:" not in out
    assert "same within noise, not shown (--all shows them)" in out


def test_figures_are_named_by_stable_paths():
    paths = interval_figures(make_run())
    assert P99_PATH in paths and "configs/django/off/crud_capacity/rps" in paths
    assert "compass/metrics_overhead/flask" in paths and "configs/flask/inprocess/arms/off/2.5x/ai/goodput_rps" in paths


def test_only_changes_separated_beyond_the_margin_are_marked(tmp_path):
    a, b = make_run(), make_run()
    b.config("flask", "inprocess").arm("on", 1.0).crud.p99_ms = Interval(30.0, 25.0, 35.0, 1000, "test")  # from ~7 ms
    # Separated from [6.5, 8.0] but by less than the latency margin: noise.
    b.config("django", "inprocess").arm("on", 1.0).crud.p99_ms = Interval(18.5, 16.5, 19.0, 1000, "test")
    rows = {row.path: row.mark for row in compare(a, b).figures}
    assert rows[P99_PATH] == "changed: higher"
    assert rows["configs/django/inprocess/arms/on/1x/crud/p99_ms"] == "same within noise"
    assert sum(mark.startswith("changed") for mark in rows.values()) == 1


def test_a_differing_verdict_exits_1_and_is_named(tmp_path, capsys):
    b = make_run()
    b.config("flask", "inprocess").arm("on", 2.5).crud.p99_ms = Interval(500.0, 400.0, 600.0, 1000, "test")
    markdown = tmp_path / "compare.md"
    assert main(["compare", saved(tmp_path, make_run(), "a"), saved(tmp_path, b, "b"), "--markdown",
                 str(markdown)]) == 1
    out = capsys.readouterr().out
    assert "guard/flask/inprocess/on/crud_p99" in out and "DIFFER" in out and "verdicts differ" in out
    assert "| guard/flask/inprocess/on/crud_p99 | kept | broken | DIFFER |" in markdown.read_text()


def test_runs_of_different_machines_are_refused_unless_forced(tmp_path, capsys):
    b = make_run()
    b.metadata = metadata(cpu_model="Other CPU")
    a, b = saved(tmp_path, make_run(), "a"), saved(tmp_path, b, "b")
    assert main(["compare", a, b]) == 2
    out = capsys.readouterr().out
    assert "machine:" in out and "Other CPU" in out and "Verdicts" not in out
    assert main(["compare", a, b, "--force"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("guard/") or line.startswith("configs/")]
    assert lines and all(line.endswith("not comparable") for line in lines)


def test_a_file_that_is_not_a_result_is_refused(tmp_path, capsys):
    missing = str(tmp_path / "missing.json")
    assert main(["compare", missing, saved(tmp_path, make_run(), "b")]) == 2
    assert "does not exist" in capsys.readouterr().err
