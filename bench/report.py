"""The Markdown report (+ PNG charts) of one Run: what AI at and past capacity does to each framework's reads.

Every figure and verdict comes from the Run (bench/model.py) and bench/verdicts.py; every percentile and rate is
printed as Interval.text(): estimate [95 % bounds] n=... .
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import charts, intervals, steadiness
from bench.config import JudgementConfig, SloConfig
from bench.model import AICapacity, ConfigResult, CrudCapacity, LoadArm, Run
from bench.verdicts import (Verdict, arm_name, goodput_figure, idle_api_pss, judging, ms, per_s, status_text,
                            verdicts)

SYNTHETIC_NOTE = ("models marked synthetic have the real architectures and sizes with random weights: their text "
                  "is meaningless, but the compute per token is the same as with the trained weights")
TINY_NOTE = ("profile `tiny` runs miniature random models through the real tasks' code paths (tokenizers, generation, "
             "batching), far smaller than the real ones. What this run measures is how each framework and mode copes "
             "when its AI route is the heavy one and demand passes its capacity (queueing, refusals, interference "
             "with the other routes), not the real models' latency or memory: with light or full models an AI "
             "request costs seconds of CPU, and the same plan needs longer arms (docs/benchmark.md)")


def _cost_line(run: Run) -> str | None:
    """What one AI request and one read cost here, in CPU-milliseconds of the services' cores, from the capacities."""
    cores = len(run.metadata.pinning.service_cpus) or run.metadata.machine.cpu_count
    ai = [c.ai_capacity.rps.estimate for c in run.configs if c.ai_capacity and c.ai_capacity.rps.estimate]
    reads = [c.crud_capacity.rps.estimate for c in run.configs if c.crud_capacity and c.crud_capacity.rps.estimate]
    if not ai or not reads:
        return None
    ai_ms = sorted(1000 * cores / rate for rate in ai)
    read_ms = sorted(1000 * cores / rate for rate in reads)
    return (f"At capacity one AI request took {ai_ms[0]:.0f}-{ai_ms[-1]:.0f} ms of the services' {cores} core(s) "
            f"and one read {read_ms[0]:.1f}-{read_ms[-1]:.1f} ms (from the capacities below, across configs).")


def loaded_models(config: ConfigResult) -> dict[str, dict[str, Any]]:
    """task -> {model, source} from what /ready reported (its body, its detail, or the models table itself)."""
    found: Any = config.models
    for key in ("detail", "models"):
        if isinstance(found, dict) and isinstance(found.get(key), dict):
            found = found[key]
    return {task: info for task, info in (found or {}).items() if isinstance(info, dict) and "model" in info}


def _header(run: Run) -> list[str]:
    svc = run.metadata.services
    lines = [f"# Blog API x AI benchmark — run {run.run_id}", "",
             f"**Models:** source `{svc.get('model_source')}`, profile `{svc.get('model_profile')}`, summary max "
             f"{svc.get('summary_max_new_tokens')} new tokens, title max {svc.get('title_max_new_tokens')} new "
             f"tokens, {svc.get('num_beams')} beam(s)."]
    models: dict[str, str] = {}
    for config in run.configs:
        for task, info in loaded_models(config).items():
            models.setdefault(task, f"`{info['model']}` ({info.get('source', '?')})")
    if models:
        lines.append("Loaded (as the services reported on /ready): "
                     + ", ".join(f"{task}: {model}" for task, model in models.items()) + ".")
    if svc.get("model_profile") == "tiny":
        lines.append(f"**Note:** {TINY_NOTE}.")
    cost = _cost_line(run)
    if cost:
        lines.append(cost)
    elif "synthetic" in f"{svc.get('model_source')} {' '.join(models.values())}":
        lines.append(f"**Note:** {SYNTHETIC_NOTE}.")
    lines += ["", _bodies(run.metadata.request_bodies)]
    if run.interrupted:
        lines += ["", "**This run was interrupted: the figures below cover only what finished.**"]
    return lines


def _words(found: dict[str, Any] | None) -> str:
    if not found:
        return "not recorded"
    return (f"min {found['min']:,.0f}, median {found['median']:,.0f}, p90 {found['p90']:,.0f}, "
            f"max {found['max']:,.0f} (n={found['n']:,})")


def _bodies(bodies: dict[str, Any]) -> str:
    if not bodies:
        return "**AI request bodies:** not recorded."
    sample = f", {bodies['sampled']:,} of {bodies['of']:,} texts" if "sampled" in bodies and "of" in bodies else ""
    seed = f", sampled with seed {bodies['seed']}" if "seed" in bodies else ""
    return (f"**AI request bodies:** {bodies.get('source', 'unknown source')}{sample}{seed}. Words per text sent to "
            f"the AI routes: {_words(bodies.get('words_sent'))}.")


# -- the centre -------------------------------------------------------------------------------------------------


def _service_cpu(arm: LoadArm) -> str:
    """Cores the API and the inference service used in the window: where the shared service cores went."""
    used = [f"{arm.server[part]['cpu_cores']:.2f}" for part in ("api", "inference")
            if "cpu_cores" in arm.server.get(part, {})]
    return " / ".join(used) or "—"


def _arm_row(config: ConfigResult, arm: LoadArm) -> str:
    crud, ai = arm.crud, arm.ai
    unanswered = crud.offered - crud.answered
    ai_cells = (f"{arm.ai_offered_rps:,.2f} | {per_s(ai.goodput_rps)} | {ms(ai.refusal_p99_ms)} | "
                f"{status_text(ai.status_mix)}") if ai else "— | — | — | —"
    return (f"| {config.framework} | {arm.guard} | {arm.name} | {arm.crud_offered_rps:,.1f} | {crud.offered:,} | "
            f"{ms(crud.p50_ms)} | {ms(crud.p99_ms)} | {crud.non_200:,} / {unanswered:,} | {ai_cells} | "
            f"{_service_cpu(arm)} |")


def _centre(run: Run, told: dict[str, list[Verdict]], images: dict[str, Path | None], slo: SloConfig) -> list[str]:
    fraction = run.metadata.plan.get("crud_fraction")
    lines = ["Per framework and mode: CRUD reads at a fixed rate (the same fraction of each framework's CRUD "
             f"capacity: {f'{fraction:.0%}' if isinstance(fraction, float | int) else 'not recorded'}), alone and beside AI offered at multiples of that "
             "config's AI capacity, with the AI guard on and off. Reads not answered by the cut-off count as the "
             "slowest. Every figure: estimate [95 % interval] n=..., an open side (…) where n is too small to bound "
             "it. CPU cores: what each process tree used over the window, of the service cores they share."]
    for mode in run.modes:
        configs = [c for c in run.configs if c.mode == mode and c.arms]
        if not configs:
            continue
        lines += ["", f"### {mode}", "",
                  "| framework | guard | arm | CRUD reads/s offered | n | CRUD p50 | CRUD p99 | non-200 / unanswered "
                  "| AI offered/s | AI goodput/s | refusal p99 | AI status mix | CPU cores: API / inference |",
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
        for config in configs:
            ordered = sorted(config.arms, key=lambda a: (a.guard != "on", a.ai_multiple))
            lines += [_arm_row(config, arm) for arm in ordered]
    lines += ["", "**Interference** (CRUD beside AI against the same reads with no AI on the same service, models "
              "loaded and idle; \"slower\" only where the intervals separate by more than the latency margin and floor):", ""] + _verdict_lines(told["interference"])
    lines += ["", "**The guard's promises** (at the highest AI multiple measured; kept where the whole interval is inside "
              "the objective, broken where it is wholly outside, \"cannot tell\" where it straddles):", ""] + _verdict_lines(told["guard"])
    shares = [line for line in (goodput_figure(config, slo) for config in run.configs) if line]
    if shares:
        lines += ["", "**AI goodput over the AI capacity, guard on** (figures, not verdicts: an arm of this run "
                  "bounds the share only to about ±25 %, too loose to decide the goodput promise for shares that lie "
                  "near it, so `python -m bench.overload` judges that promise over a minute of overload):", ""]
        lines += [f"- {line}." for line in shares]
    if images.get("crud_p99_against_ai"):
        lines += ["", f"![CRUD p99 against AI load]({images['crud_p99_against_ai'].name})"]
    return lines


def _verdict_lines(found: list[Verdict]) -> list[str]:
    return [f"- {v.statement}: **{v.state}** — {v.evidence}." for v in found] or ["- (none measured)"]


def _capacities(run: Run) -> list[str]:
    lines = ["| framework | mode | CRUD capacity (reads/s) | CRUD p50 at capacity | AI capacity (answers/s) | AI "
             "answers per window | AI p50 per window (ms) | stable | AI capacity after the arms (answers per window) |",
             "|---|---|---:|---:|---:|---|---|---|---|"]
    for config in run.configs:
        crud, ai, after = config.crud_capacity, config.ai_capacity, config.ai_capacity_after
        crud_cells = (f"{per_s(crud.rps)} ({crud.clients} clients, {_slots(crud)}) | {ms(crud.p50_ms)}"
                      if crud else "— | —")
        ai_cells = "— | — | — | —"
        if ai:
            latencies = ", ".join("n/a" if v is None else f"{v:,.0f}" for v in ai.latency_p50_ms_per_window)
            ai_cells = (f"{per_s(ai.rps)} ({ai.clients} clients, windows of {ai.window_s:g} s) | "
                        f"{_counts(ai)} | {latencies} | {'yes' if ai.stable else '**no**: no two windows agreed'}")
        after_cell = f"{per_s(after.rps)} ({_counts(after)})" if after else "—"
        lines.append(f"| {config.framework} | {config.mode} | {crud_cells} | {ai_cells} | {after_cell} |")
    return lines


def _counts(capacity: AICapacity) -> str:
    return ", ".join(f"{n:,}" for n in capacity.answers_per_window)


def _slots(crud: CrudCapacity) -> str:
    if crud.slots > 1:
        return f"{crud.slots} interleaved slots of {crud.window_s / crud.slots:g} s, interval over the slots"
    return f"{crud.window_s:g} s"


def _memory(run: Run, images: dict[str, Path | None]) -> list[str]:
    workers = run.metadata.services.get("web_workers")
    lines = ["Idle PSS (MiB) of each service's process tree after start-up: one reading each, told apart by the "
             "memory margin alone.", "",
             "| framework | mode | API | inference service | API with PRELOAD_MODELS | PRELOAD_MODELS saves per worker |",
             "|---|---|---:|---:|---:|---:|"]
    for config in run.configs:
        api, preloaded = idle_api_pss(config), idle_api_pss(config, "api_preloaded")
        saved = (f"{(api - preloaded) / workers:,.0f} MiB ({workers} workers)"
                 if api is not None and preloaded is not None and workers else "—")
        cells = [idle_api_pss(config, part) for part in ("api", "inference", "api_preloaded")]
        lines.append(f"| {config.framework} | {config.mode} | "
                     + " | ".join("—" if v is None else f"{v:,.0f}" for v in cells) + f" | {saved} |")
    if images.get("idle_memory"):
        lines += ["", f"![idle memory]({images['idle_memory'].name})"]
    return lines


def _compass(run: Run) -> list[str]:
    compass = run.compass
    if compass is None:
        return ["Not measured in this run."]
    lines = []
    for name, label in (("remote_efficiency", "API + remote efficiency (API's AI throughput / inference service's "
                                              "own batched throughput)"),
                        ("inference_own_rps", "inference service's own batched throughput (answers/s)"),
                        ("api_remote_rps", "AI throughput through an API in remote mode (answers/s)"),
                        ("grpc_hop_p50_ms", "gRPC hop p50 (ms)")):
        value = getattr(compass, name)
        if value is not None:
            lines.append(f"- {label}: {value.text(2)}")
    lines += [f"- metrics overhead, {fw} (CRUD capacity without / with instrumentation): {v.text(3)}"
              for fw, v in compass.metrics_overhead.items()]
    lines += [f"- memory remote vs off, {fw} (API PSS, one reading each): {v:.2f}x"
              for fw, v in compass.memory_remote_vs_off.items()]
    lines += [f"- {note}" for note in compass.notes]
    return lines or ["No compass figure was measured."]


def _sample_sizes(run: Run) -> str:
    reads = [a.crud.p99_ms for c in run.configs for a in c.arms]
    if not reads:
        return "no arm was measured"
    open_p99 = sum(not v.bounded for v in reads)
    needed = intervals.min_samples_for_quantile(0.99)
    return (f"reads per arm {min(v.n for v in reads):,} to {max(v.n for v in reads):,} (a p99 needs {needed} for both "
            f"bounds); {open_p99} of {len(reads)} arm p99s have an open side")


def _steal(run: Run) -> str:
    """The CPU time a virtual machine's host took from the services during each arm (/proc/stat), summarised."""
    shares = [(arm.server["host"]["steal_share"], f"{config.framework} {config.mode}, {arm_name(arm)}")
              for config in run.configs for arm in config.arms if "host" in arm.server]
    if not shares:
        return "not recorded"
    ordered = sorted(shares)
    worst = ordered[-1]
    return (f"median {ordered[len(ordered) // 2][0]:.1%} of their time over {len(shares)} arms, most {worst[0]:.1%} "
            f"({worst[1]})")


def _method(run: Run, slo: SloConfig, judgement: JudgementConfig) -> list[str]:
    meta = run.metadata
    machine, pin = meta.machine, meta.pinning
    pinning = (f"services on CPU {pin.service_cpus}, k6 and the runner on CPU {pin.k6_cpus} ({pin.note})"
               if pin.pinned else f"not pinned: {pin.note}")
    plan = ", ".join(f"{key} {value}" for key, value in meta.plan.items())
    return [
        f"- Plan (profile `{meta.profile}`): {plan}.",
        f"- Objectives: CRUD p99 <= {slo.crud_p99_ms:g} ms; an AI answer counts as goodput within "
        f"{slo.ai_answer_ms:g} ms; refusal p99 <= {slo.refusal_p99_ms:g} ms; goodput >= "
        f"{slo.goodput_of_capacity:.0%} of the AI capacity (shown, judged by bench.overload).",
        f"- Judgement: a figure is better than another only when their 95 % intervals separate and the nearer bounds "
        f"differ by more than x{judgement.latency_ratio:g} and {judgement.latency_floor_ms:g} ms (latency), "
        f"x{judgement.rate_ratio:g} (rates) or "
        f"x{judgement.memory_ratio:g} (memory, single readings: the margin alone); otherwise \"cannot tell\".",
        f"- Sample sizes: {_sample_sizes(run)}.",
        f"- Machine: {machine.cpu_model}, {machine.cpu_count} cores, {machine.memory_gib:g} GiB, {machine.platform}, "
        f"Python {machine.python}; load average at start {meta.load_average_at_start}, at end "
        f"{meta.load_average_at_end}.",
        f"- Steadiness of the CPUs (bench/steadiness.py), before: {steadiness.text(meta.steadiness_at_start)}; "
        f"after: {steadiness.text(meta.steadiness_at_end)}.",
        f"- Pinning: {pinning}.",
        f"- Hypervisor steal on the service CPUs during the arms: {_steal(run)}.",
        "- Services: " + ", ".join(f"{key} {value}" for key, value in meta.services.items()) + ".",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in meta.packages.items()) + f"; {meta.k6_version}.",
        f"- Commit {meta.git_commit}{' (working tree had uncommitted changes)' if meta.git_dirty else ''}; run from "
        f"{meta.started_at} to {meta.ended_at}, wall time {meta.wall_s / 60:.1f} min against a budget of "
        f"{meta.planned_s / 60:.1f} min.",
        f"- Reproduce: `python -m bench run{'' if meta.profile == 'default' else ' --' + meta.profile}`; compare two "
        f"runs with `python -m bench compare A/result.json B/result.json` (exit 1 when a verdict differs).",
    ]


def _failures(run: Run) -> list[str]:
    lines = [f"- {f.where}: {f.message.splitlines()[0] if f.message else ''}" for f in run.failures]
    lines += [f"- {c.framework}/{c.mode}: {c.failure.splitlines()[0]}" for c in run.configs if c.failure]
    return lines or ["None."]


def _sorted_verdicts(found: list[Verdict]) -> dict[str, list[Verdict]]:
    kinds = {"guard": [], "interference": [], "lead": [], "claim": []}
    for verdict in found:
        kinds.setdefault(verdict.key.split("/", 1)[0], []).append(verdict)
    return kinds


def render(run: Run, images: dict[str, Path | None]) -> str:
    slo, judgement = judging(run)
    told = _sorted_verdicts(verdicts(run, judgement, slo))
    lines = _header(run)
    if any(not a.crud.p99_ms.bounded for c in run.configs for a in c.arms):
        lines += ["", "**Some arms have too few reads for a p99 with both bounds: the verdicts that rest on them say "
                      "\"cannot tell\".**"]
    shaky = steadiness.unsteady(run.metadata.steadiness_at_start + run.metadata.steadiness_at_end)
    if shaky:
        lines += ["", f"**The host's CPUs were unsteady around this run** (a busy loop's slowest slice under "
                      f"{steadiness.UNSTEADY_BELOW:.0%} of its median: {steadiness.text(shaky)}). Figures measured "
                      "minutes apart can then differ by more than their intervals, which hold only the sampling "
                      "noise within a window: compare two runs before relying on a verdict."]
    lines += ["", "## AI at and past capacity beside ordinary traffic", ""] + _centre(run, told, images, slo)
    lines += ["", "## Capacities", ""] + _capacities(run)
    lines += ["", "## Who copes best", "", "A framework leads only where it is better than every other one by the "
              "rule in Method; otherwise the run cannot tell, and the figures are shown.", ""]
    lines += [f"- {v.statement}: **{v.state}** — {v.evidence}." for v in told["lead"]] or ["- Fewer than two "
                                                                                           "frameworks measured."]
    lines += ["", "## The original study's claims, judged by this run", "",
              "CONFIRMED when every comparison the claim makes holds, REFUTED when one fails, INCONCLUSIVE otherwise.", ""]
    lines += [f"{i}. *{v.statement}* — **{v.state}**: {v.evidence}." for i, v in enumerate(told["claim"], 1)]
    lines += ["", "## Memory", ""] + _memory(run, images)
    lines += ["", "## Compass figures", ""] + _compass(run)
    lines += ["", "## Method", ""] + _method(run, slo, judgement)
    lines += ["", "## Failures", ""] + _failures(run)
    return "\n".join(lines) + "\n"


CHARTS: dict[str, Callable[[Run, Path], Path | None]] = {
    "crud_p99_against_ai": charts.crud_p99_against_ai,
    "idle_memory": charts.idle_memory,
}


def write_report(run: Run, out_dir: Path) -> Path:
    """Write report.md and its PNG charts into out_dir; returns the report's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images: dict[str, Path | None] = {}
    for name, draw in CHARTS.items():
        try:
            images[name] = draw(run, out_dir / f"{name}.png")
        except Exception as exc:  # a chart that cannot be drawn must not cost the report its numbers
            print(f"warning: chart {name} not drawn: {exc}", file=sys.stderr)
            images[name] = None
    path = out_dir / "report.md"
    path.write_text(render(run, images), encoding="utf-8")
    return path
