"""The Markdown report (+ PNG charts) of one result: what AI does to each framework, in numbers from the run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bench import charts, stats
from bench.claims import judge_all, leader
from bench.result_reader import ResultReader, fmt, fmt_bracket, fmt_ratio, ratio
from bench.intervals import Interval, separated

_NO_INTERVAL = Interval(None, None, None, 0, "none")
SYNTHETIC_NOTE = ("models marked synthetic have the real architectures and sizes with random weights: their text "
                  "is meaningless, but the compute per token is the same as with the trained weights")
# Profile tiny (the quick run and the tests) has neither the real architectures' sizes nor their cost.
TINY_NOTE = ("profile `tiny` runs miniature test models (a few layers, small vocabularies), not the real "
             "architectures and sizes: latency and memory here say nothing about the real models, only that the "
             "whole pipeline works")


def _models_line(result: dict[str, Any]) -> list[str]:
    meta = result["metadata"]
    models = meta["models"]
    lines = [f"**Models:** source `{models['model_source']}`, profile `{models['model_profile']}`, "
             f"summary max {models.get('summary_max_new_tokens')} new tokens, title max "
             f"{models.get('title_max_new_tokens')} new tokens, {models.get('num_beams')} beam(s)."]
    ids: dict[str, str] = {}
    for config in result["configs"]:
        detail = (config.get("models") or {}).get("detail") or {}
        tasks = detail.get("models") or detail.get("tasks") or detail
        if isinstance(tasks, dict):
            for task, info in tasks.items():
                if isinstance(info, dict) and ("model_id" in info or "model" in info):
                    ids.setdefault(task, f"{info.get('model_id') or info.get('model')} ({info.get('source', '?')})")
    if ids:
        lines.append("Loaded (as the services reported on /ready): " + ", ".join(f"{t}: `{m}`" for t, m in ids.items()) + ".")
    sources = " ".join(ids.values()) + " " + models["model_source"]
    if models["model_profile"] == "tiny":
        lines.append(f"**Note:** {TINY_NOTE}.")
    elif "synthetic" in sources:
        lines.append(f"**Note:** {SYNTHETIC_NOTE}.")
    return lines


def _bodies_line(result: dict[str, Any]) -> str:
    bodies = result.get("request_bodies")
    if not bodies:
        return "**AI request bodies:** not recorded (a run from before real text was sent: template post bodies)."

    def words(found: dict[str, Any] | None) -> str:
        if not found:
            return "none"
        return (f"min {found['min']:.0f}, median {found['median']:.0f}, p90 {found['p90']:.0f}, max {found['max']:.0f} "
                f"(n={found['n']})")

    if "words_in_sample" not in bodies:
        return f"**AI request bodies:** {bodies['source']}."
    return (f"**AI request bodies:** real text, {bodies['sampled']} of {bodies['of']} articles of {bodies['source']}, "
            f"sampled with seed {bodies['seed']}. Words per text sent to the AI routes: {words(bodies.get('words_sent'))}; "
            f"in the sample: {words(bodies['words_in_sample'])}.")


def _tax_table(reader: ResultReader) -> list[str]:
    lines = ["| framework | mode | max ai_mixed rate within SLO (it/s) [passed, first missed) | ai_mixed p50 / p99 (ms) at the fixed rate "
             "| AI p50 / p99 (ms) | CRUD p50 / p99 in mix (ms) | peak PSS, API + inference (MiB) | CPU ms/request "
             "| max rate vs off | memory vs off |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for fw in reader.frameworks:
        base_mem = reader.memory(fw, "off")
        for mode in reader.modes:
            if not reader.config(fw, mode):
                continue
            g = lambda name, m=mode: reader.get(fw, m, "ai_mixed", name)  # noqa: E731
            ci = lambda name, m=mode, d=1: reader.with_interval(fw, m, "ai_mixed", name, d)  # noqa: E731
            rate_vs_off = "1.00x" if mode == "off" else fmt_ratio(reader.rate_ratio(fw, mode, "ai_mixed"))
            mem_vs_off = "1.00x" if mode == "off" else fmt_ratio(ratio(reader.memory(fw, mode), base_mem))
            lines.append(
                f"| {fw} | {mode} | {reader.rate_text(fw, mode, 'ai_mixed')} {fmt_bracket(reader.capacity(fw, mode, 'ai_mixed'))} | "
                f"{ci('p50_ms')} / {ci('p99_ms')} | {ci('ai_p50_ms')} / {ci('ai_p99_ms')} | "
                f"{ci('crud_p50_ms', d=2)} / {ci('crud_p99_ms')} | "
                f"{fmt(reader.memory(fw, mode), 0)} | {fmt(g('cpu_ms_per_request'), 2)} | {rate_vs_off} | {mem_vs_off} |"
            )
    lines += ["", "≥: the saturation search never missed the SLO, so the rate is a lower bound and no ratio is given. "
              "With AI off the mix's AI requests are answered 503 at once: the off rows are the framework without "
              "inference work. Latencies: estimate [95 % interval] n = requests; an open side (…) means too few "
              "requests to bound it (a p99 needs at least 368 for an upper bound)."]
    return lines


def _tax_sentences(reader: ResultReader) -> list[str]:
    out = []
    for fw in reader.frameworks:
        parts = []
        for mode in ("inprocess", "remote"):
            if not reader.config(fw, mode) or not reader.config(fw, "off"):
                continue
            mem = ratio(reader.memory(fw, mode), reader.memory(fw, "off"))
            bits = [f"memory {fmt_ratio(mem)}"]
            if reader.max_rate(fw, mode, "ai_mixed") is not None:
                bits.append(f"max ai_mixed rate within SLO {reader.rate_text(fw, mode, 'ai_mixed')} it/s "
                            f"(AI off: {reader.rate_text(fw, 'off', 'ai_mixed')})")
            for name, label in (("crud_p50_ms", "CRUD p50"), ("crud_p99_ms", "CRUD p99")):
                value = ratio(reader.get(fw, mode, "ai_mixed", name), reader.get(fw, "off", "ai_mixed", name))
                bits.append(f"{label} inside the mix {fmt_ratio(value)}")
            parts.append(f"{mode}: " + ", ".join(bits))
        if parts:
            out.append(f"- **{fw}** with AI, relative to AI off — " + "; ".join(parts) + ".")
    return out


def _interference_table(reader: ResultReader) -> list[str]:
    lines = ["| framework | mode | CRUD req/s alone | CRUD p50 alone | CRUD p99 alone | CRUD req/s in mix (+ AI req/s) "
             "| CRUD p50 in ai_mixed | CRUD p99 in ai_mixed | p50 ratio | p99 ratio |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def told(alone: Interval | None, mixed: Interval | None, value: float | None) -> str:
        return fmt_ratio(value) + ("" if separated(alone, mixed) else " (cannot tell apart)")

    for mode in reader.modes:
        for fw in reader.frameworks:
            alone50, alone99 = reader.get(fw, mode, "crud", "crud_p50_ms"), reader.get(fw, mode, "crud", "crud_p99_ms")
            mix50, mix99 = reader.get(fw, mode, "ai_mixed", "crud_p50_ms"), reader.get(fw, mode, "ai_mixed", "crud_p99_ms")
            if alone99 is None and mix99 is None:
                continue
            mix_rates = f"{fmt(reader.get(fw, mode, 'ai_mixed', 'crud_rps'))} (+ {fmt(reader.get(fw, mode, 'ai_mixed', 'ai_rps'))})"
            iv = lambda scenario, name: reader.interval(fw, mode, scenario, name)  # noqa: E731
            text = lambda scenario, name: reader.with_interval(fw, mode, scenario, name, 2)  # noqa: E731
            lines.append(f"| {fw} | {mode} | {fmt(reader.get(fw, mode, 'crud', 'crud_rps'))} | {text('crud', 'crud_p50_ms')} | "
                         f"{text('crud', 'crud_p99_ms')} | {mix_rates} | {text('ai_mixed', 'crud_p50_ms')} | "
                         f"{text('ai_mixed', 'crud_p99_ms')} | "
                         f"{told(iv('crud', 'crud_p50_ms'), iv('ai_mixed', 'crud_p50_ms'), ratio(mix50, alone50))} | "
                         f"{told(iv('crud', 'crud_p99_ms'), iv('ai_mixed', 'crud_p99_ms'), ratio(mix99, alone99))} |")
    return lines


def _scenario_table(reader: ResultReader) -> list[str]:
    lines = ["| framework | mode | scenario | offered (it/s) | throughput (req/s) | errors | dropped / unfinished | p50 | p90 | p99 (ms) "
             "| API PSS | inference PSS | CPU (cores) | trials | spread (tput / p99) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for mode in reader.modes:
        for fw in reader.frameworks:
            config = reader.config(fw, mode)
            if not config:
                continue
            for scenario, outcome in config["scenarios"].items():
                g = lambda name: stats.value_of(outcome["aggregate"], name)  # noqa: E731
                ci = lambda name, fw=fw, mode=mode, sc=scenario: reader.with_interval(fw, mode, sc, name, 2)  # noqa: E731
                figs = outcome["aggregate"]["figures"]
                spread = "/".join(f"{100 * figs[n]['spread']:.0f}%" if n in figs else "-" for n in ("throughput_rps", "p99_ms"))
                flag = " **(!)**" if outcome["aggregate"]["flagged"] else ""
                lines.append(
                    f"| {fw} | {mode} | {scenario} | {outcome['rate']:g} | {fmt(g('throughput_rps'))} | "
                    f"{fmt(100 * (g('error_rate') or 0), 2)}% | {fmt(100 * (g('dropped_fraction') or 0), 1)}% / "
                    f"{fmt(100 * (g('unfinished_fraction') or 0), 1)}% | "
                    f"{ci('p50_ms')} | {ci('p90_ms')} | {ci('p99_ms')} | "
                    f"{fmt(g('api_pss_peak_mib'), 0)} | {fmt(g('inference_pss_peak_mib'), 0)} | "
                    f"{fmt(g('total_cpu_cores'), 2)} | {outcome['aggregate']['trials']} | {spread}{flag} |"
                )
    return lines


def _saturation_table(reader: ResultReader) -> list[str]:
    lines = ["| framework | mode | scenario | max rate within SLO | steps (offered it/s → p99 ms, errors; ✗ = missed the SLO) |",
             "|---|---|---|---:|---|"]
    any_rows = False
    for mode in reader.modes:
        for fw in reader.frameworks:
            config = reader.config(fw, mode) or {}
            for scenario, found in config.get("saturation", {}).items():
                any_rows = True
                steps = "; ".join(
                    f"{s['offered_rate']:g} → {_step_p99(s)}, "
                    f"{100 * s['error_rate']:.1f}%{'' if s['meets_slo'] else ' ✗'}" for s in found["steps"])
                prefix = "≥ " if found.get("capped") else ""
                lines.append(f"| {fw} | {mode} | {scenario} | {prefix}{fmt(found['max_rate'])} | {steps} |")
    return lines if any_rows else []


def _step_p99(step: dict[str, Any]) -> str:
    found = Interval.from_dict(((step.get("intervals") or {}).get("latency_ms", {}).get("all") or {}).get("p99"))
    return found.text(0) if found else fmt(step["latency_ms"].get("all", {}).get("p99"), 0)


LEAD_FIGURES = (
    # (label, scenario, figure, higher is better)
    ("CRUD p50 during the AI mix (ms)", "ai_mixed", "crud_p50_ms", False),
    ("CRUD p99 during the AI mix (ms)", "ai_mixed", "crud_p99_ms", False),
    ("AI p99 in the mix (ms)", "ai_mixed", "ai_p99_ms", False),
    ("CRUD p50 alone (ms)", "crud", "crud_p50_ms", False),
)


def _leads_section(reader: ResultReader) -> list[str]:
    """Per mode and figure: the framework that leads on separated intervals, or 'cannot tell apart'."""
    lines = ["A framework leads only where its 95 % interval is separated from every other framework's; otherwise "
             "the run cannot tell them apart and the intervals are shown.", "",
             "| mode | figure | verdict | estimates [95 % intervals] |", "|---|---|---|---|"]
    rows = 0
    for mode in reader.modes:
        candidates: list[tuple[str, dict[str, Interval | None], bool, int]] = []
        for label, scenario, figure, highest in LEAD_FIGURES:
            candidates.append((label, {fw: reader.interval(fw, mode, scenario, figure) for fw in reader.frameworks}, highest, 2))
        candidates.append(("max ai_mixed rate within SLO (it/s)",
                           {fw: reader.capacity(fw, mode, "ai_mixed") for fw in reader.frameworks}, True, 1))
        candidates.append(("API peak PSS (MiB)", {fw: reader.memory_interval(fw, mode) for fw in reader.frameworks}, False, 0))
        for label, values, highest, digits in candidates:
            known = {fw: v for fw, v in values.items() if v is not None and v.estimate is not None}
            if len(known) < 2:
                continue
            rows += 1
            best = leader(known, highest)
            verdict = f"**{best}** leads" if best else "cannot tell apart"
            detail = ", ".join(f"{fw} {v.text(digits)}" if v.method != "search bracket" else f"{fw} {fmt_bracket(v)}"
                               for fw, v in known.items())
            lines.append(f"| {mode} | {label} | {verdict} | {detail} |")
    return lines if rows else ["No figure was measured for two frameworks in the same mode."]


def _batching_section(result: dict[str, Any], images: dict[str, Path | None]) -> list[str]:
    bat = result.get("batching")
    if not bat or not bat.get("variants"):
        return ["Not run (batching comparison disabled in the configuration, or it failed: see Failures)."]
    lines = [f"Remote mode, {bat['framework']} API, scenario `{bat['scenario']}` offered at {bat['rate']:g} it/s "
             f"(above what one core serves, on purpose): the inference service with its default dynamic batching vs "
             f"`{', '.join(f'{k}={v}' for k, v in bat['unbatched_env'].items())}`.", "",
             "| variant | served (successful req/s) | AI p50 (ms) | AI p99 (ms) | errors | mean batch size |",
             "|---|---:|---:|---:|---:|---:|"]
    goodput = {}
    for variant, outcome in bat["variants"].items():
        g = lambda name: stats.value_of(outcome["aggregate"], name)  # noqa: E731
        ci = lambda name: (stats.interval_of(outcome["aggregate"], name) or _NO_INTERVAL).text(0)  # noqa: E731
        goodput[variant] = g("goodput_rps")
        sizes = bat.get("inference_batches", {}).get(variant, {})
        mean_sizes = ", ".join(f"{t} {v['mean_batch_size']:.2f}" for t, v in sizes.items()) or "n/a"
        lines.append(f"| {variant} | {fmt(g('goodput_rps'), 2)} | {ci('ai_p50_ms')} | {ci('ai_p99_ms')} | "
                     f"{fmt(100 * (g('error_rate') or 0), 1)}% | {mean_sizes} |")
    gain = ratio(goodput.get("batched"), goodput.get("unbatched"))
    if gain is not None:
        lines += ["", f"Dynamic batching serves **{fmt_ratio(gain)}** the requests per second of batch size 1."]
    if images.get("batching"):
        lines += ["", f"![batching]({images['batching'].name})"]
    return lines


def _method(result: dict[str, Any]) -> list[str]:
    meta = result["metadata"]
    cfg = meta["config"]
    m, sat, slo = cfg["matrix"], cfg["saturation"], cfg["slo"]
    pin = meta["pinning"]
    pk = meta["packages"]
    workers = meta.get("workers", {})
    pinning = (f"services (the API, and in remote mode the inference service too, sharing the same core budget) on CPU "
               f"{pin['service_cpus']}, k6 and the runner on CPU {pin['k6_cpus']} ({pin['method']})"
               if pin["pinned"] else f"not pinned: {pin['note']}")
    return [
        f"- Machine: {meta['cpu_model']}, {meta['cpu_count']} cores, {meta.get('memory_gib', '?')} GiB; load average at "
        f"start {meta.get('load_average_at_start')}, at end {meta.get('load_average_at_end')} (the machine was shared).",
        f"- Pinning: {pinning}.",
        f"- Workers: every framework ran under gunicorn with WEB_WORKERS={workers.get('web_workers')}, "
        f"WEB_THREADS={workers.get('web_threads')} (threads apply to the gthread workers of Flask and Django; FastAPI "
        f"runs uvicorn workers), AI_MAX_CONCURRENCY={workers.get('ai_max_concurrency')}, "
        f"AI_BULKHEAD={workers.get('ai_bulkhead')} (0 = half the threads), AI_GUARD={workers.get('ai_guard')}; torch threads = service cores / workers in process, all service "
        f"cores in the inference service.",
        "- Load: k6 open model (constant-arrival-rate). Fixed rates per scenario: "
        + ", ".join(f"{k} {v:g} it/s" for k, v in cfg["rates"].items() if k in m["scenarios"])
        + f". Each trial = {m['warmup_s']:g} s warm-up window (discarded) + {m['window_s']:g} s measured window; "
        f"{m['trials']} trial(s) per config and scenario; medians reported; trials that disagree by more than "
        f"{100 * m['spread_flag']:.0f}% (throughput or p99) are flagged (!).",
        f"- ai_mixed: 80% CRUD (list, read, create, update, delete) and 20% AI (the four tasks equally) on "
        f"{m['seed_posts']} seeded posts; with AI off, AI requests get the designed 503 ai_disabled at once and are "
        f"counted as expected answers.",
        f"- Saturation: scenarios {sat['scenarios']} on {sat['frameworks']} x {sat['modes']}: doubling from the start "
        f"rate, then bisection, at most {sat['max_steps']} windows of {sat['step_s']:g} s; SLO p99 "
        + ", ".join(f"{k} < {v:g} ms" for k, v in slo["p99_ms"].items() if k in sat["scenarios"])
        + f", errors < {100 * slo['max_error_rate']:.0f}%, dropped and unfinished iterations each <= "
        f"{100 * slo['max_dropped_fraction']:.0f}% (requests still in flight one second past the p99 objective after "
        "the window are cut off and counted as unfinished).",
        "- Server measurements: memory (RSS, PSS, USS) and CPU seconds of each service summed over its process tree "
        "with psutil, sampled during every window; peaks reported; API + inference figures are added for remote mode. "
        "Latency, throughput, errors and dropped iterations from k6 (client side, loopback); k6 also writes every "
        "request to a CSV file per window (results/<run-id>/k6/*.csv.gz), from which the intervals are computed.",
        "- Uncertainty: every percentile is shown with its 95 % confidence interval and its sample count n, over the "
        "requests of all trials pooled: distribution-free order-statistic bounds (binomial), open on a side where n "
        "is too small to bound it (a p99 needs n >= 368 for an upper bound). Error rates: Wilson; rates: exact "
        "Poisson; memory and CPU: Student-t over the trials; searched rates: the bracket between the last rate "
        "within the SLO and the first one above it that missed. Pooling assumes the trials measure the same thing; "
        "trials that disagree are flagged (!). Two figures differ only where their intervals do not overlap.",
        "- One config's services running at a time, each on a fresh SQLite database.",
        f"- Versions: Python {meta.get('python')}, " + ", ".join(f"{k} {v}" for k, v in pk.items()) + f"; {meta.get('k6_version')}.",
        f"- Commit {meta['git_commit']}{' (working tree had uncommitted changes)' if meta.get('git_dirty') else ''}; "
        f"run from {meta['started_at']} to {meta.get('ended_at')}, wall time {meta['wall_s'] / 60:.1f} min "
        f"(planned {meta.get('planned_s', 0) / 60:.1f} min); profile `{cfg['profile']}`.",
    ]


def render(result: dict[str, Any], images: dict[str, Path | None]) -> str:
    reader = ResultReader(result)
    lines = [f"# Blog API x AI benchmark — run {result['run_id']}", ""]
    lines += _models_line(result)
    lines += ["", _bodies_line(result)]
    if result.get("interrupted"):
        lines += ["", "**This run was interrupted: the figures below cover only what finished.**"]
    lines += ["", "## What AI does to each framework", ""]
    lines += _tax_sentences(reader) or ["(No framework ran both with AI off and on.)"]
    lines += [""] + _tax_table(reader)
    if images.get("ai_tax"):
        lines += ["", f"![AI tax]({images['ai_tax'].name})"]
    lines += ["", "## Which framework leads", ""] + _leads_section(reader)
    lines += ["", "## The original study's claims, judged by this run", "",
              "CONFIRMED or REFUTED only where 95 % intervals separate; a part the run cannot tell apart is a tie.", ""]
    for number, verdict in enumerate(judge_all(reader), 1):
        lines.append(f"{number}. *{verdict.claim}* — **{verdict.verdict}**: {verdict.reason}.")
    lines += ["", "## Interference: CRUD latency while AI requests are in flight", "",
              "CRUD requests of the ai_mixed scenario against the crud-only scenario, same framework and mode. The two "
              "run at the CRUD rates shown; with AI off, the mix's AI requests are answered 503 at once, so the off rows "
              "show the mix without inference work. p99 over few requests is noisy: read p50 beside it.", ""]
    lines += _interference_table(reader)
    if images.get("interference"):
        lines += ["", f"![interference]({images['interference'].name})"]
    lines += ["", "## Latency vs offered load", ""]
    sat_lines = _saturation_table(reader)
    lines += sat_lines or ["No saturation search in this run."]
    if images.get("latency_vs_load"):
        lines += ["", f"![latency vs load]({images['latency_vs_load'].name})"]
    lines += ["", "## Dynamic batching (remote mode)", ""]
    lines += _batching_section(result, images)
    lines += ["", "## Memory", "", "Peak PSS under load (MiB), API workers and inference service stacked."]
    if images.get("memory"):
        lines += ["", f"![memory]({images['memory'].name})"]
    lines += ["", "## All measured windows (medians over trials)", ""] + _scenario_table(reader)
    flagged = [(c["framework"], c["mode"], s, o["aggregate"]["disagree"]) for c in result["configs"]
               for s, o in c["scenarios"].items() if o["aggregate"]["flagged"]]
    if flagged:
        lines += ["", "Trials disagree by more than the spread limit for: " + "; ".join(
            f"{fw}/{mode}/{s} ({', '.join(d)})" for fw, mode, s, d in flagged) + "."]
    lines += ["", "## Failures", ""]
    lines += [f"- {f['where']}: {f['message'].splitlines()[0]}" for f in result["failures"]] or ["None."]
    lines += ["", "## Method", ""] + _method(result)
    return "\n".join(lines) + "\n"


def write_report(result: dict[str, Any], out_dir: Path) -> Path:
    """Write report.md and its PNG charts into out_dir; returns the report's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reader = ResultReader(result)
    makers = {
        "ai_tax": lambda: charts.ai_tax(reader, out_dir / "ai_tax.png"),
        "interference": lambda: charts.interference(reader, out_dir / "interference.png"),
        "latency_vs_load": lambda: charts.latency_vs_load(reader, out_dir / "latency_vs_load.png"),
        "memory": lambda: charts.memory(reader, out_dir / "memory.png"),
        "batching": lambda: charts.batching(result, out_dir / "batching.png"),
    }
    images: dict[str, Path | None] = {}
    for name, make in makers.items():
        try:
            images[name] = make()
        except Exception as exc:  # a chart that cannot be drawn must not cost the report its numbers
            print(f"warning: chart {name} not drawn: {exc}", file=sys.stderr)
            images[name] = None
    path = out_dir / "report.md"
    path.write_text(render(result, images), encoding="utf-8")
    return path
