"""Every verdict the report states, judged from a Run: the guard's promises, interference, who copes best, the claims.

One rule tells two figures apart (bench/intervals.py order_by_margin): a is better than b only when their 95 %
intervals separate AND the nearer bounds differ by more than the [judgement] margin; anything less is "cannot
tell". Memory readings are single values and are told apart by the memory margin alone. Each verdict has a key
that stays the same from run to run, so `compare` can line two runs' verdicts up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bench import intervals
from bench.config import ConfigError, JudgementConfig, SloConfig, load_config
from bench.intervals import Interval
from bench.model import ConfigResult, LoadArm, Run

AI_MODES = ("inprocess", "remote")
CANNOT_TELL = "cannot tell"
# AI statuses the guard promises: an answer, or a quick refusal (overloaded, unavailable)
PROMISED_AI_STATUSES = ("200", "429", "503")


@dataclass(frozen=True)
class Verdict:
    key: str
    statement: str
    state: str
    evidence: str


@dataclass(frozen=True)
class Figure:
    """One framework's value of a compared figure: an Interval, or a single reading (memory)."""

    framework: str
    value: Interval | float | None
    text: str


@dataclass(frozen=True)
class Ranking:
    """How a figure's values are told apart: which way is better and by what margin."""

    higher_is_better: bool
    margin: float
    floor: float = 0.0

    def better(self, a: Figure, b: Figure) -> bool:
        """a is better than b on separated intervals beyond the margin and the floor (readings: beyond the margin
        alone)."""
        if isinstance(a.value, Interval) or isinstance(b.value, Interval):
            side = intervals.order_by_margin(a.value, b.value, self.margin, self.floor)
        else:
            side = intervals.order_readings(a.value, b.value, self.margin)
        return side == (1 if self.higher_is_better else -1)


def judging(run: Run) -> tuple[SloConfig, JudgementConfig]:
    """The objectives and margins the run is judged by: those it recorded, else its profile's in bench/config.toml."""
    # A run records them once its Metadata has slo and judgement; one from before is judged by its profile's.
    recorded_slo, recorded_judgement = getattr(run.metadata, "slo", None), getattr(run.metadata, "judgement", None)
    if recorded_slo and recorded_judgement:
        return SloConfig(**recorded_slo), JudgementConfig(**recorded_judgement)
    try:
        config = load_config(profile=run.metadata.profile)
    except ConfigError:
        return SloConfig(), JudgementConfig()
    return config.slo, config.judgement


def config_name(config: ConfigResult) -> str:
    return f"{config.framework} {config.mode}"


def arm_name(arm: LoadArm) -> str:
    return f"guard {arm.guard}, " + ("CRUD alone" if arm.ai_multiple == 0 else f"AI at {arm.ai_multiple:g}x")


def ms(value: Interval | None) -> str:
    return value.text(1, " ms") if value is not None else "n/a"


def per_s(value: Interval | None) -> str:
    return value.text(2, "/s") if value is not None else "n/a"


# -- the guard's promises ---------------------------------------------------------------------------------------


def within(figure: Interval | None, limit: float) -> str:
    """kept when the whole interval is at or under the objective, broken when the whole interval is over it.

    No margin here, unlike between two figures: an objective is a fixed line, not a second measurement drifting
    with the host, and the objectives already leave room (a margin would make the 80 % goodput promise 96 %)."""
    if figure is None or figure.estimate is None:
        return CANNOT_TELL
    if figure.high is not None and figure.high <= limit:
        return "kept"
    if figure.low is not None and figure.low > limit:
        return "broken"
    return CANNOT_TELL


def at_least(figure: Interval | None, floor: float) -> str:
    """kept when the whole interval is at or above the floor, broken when the whole interval is under it."""
    if figure is None or figure.estimate is None:
        return CANNOT_TELL
    if figure.low is not None and figure.low >= floor:
        return "kept"
    if figure.high is not None and figure.high < floor:
        return "broken"
    return CANNOT_TELL


def goodput_share(arm: LoadArm, config: ConfigResult) -> Interval | None:
    """The arm's goodput over the AI capacity: the estimate against the readings before and after the arms pooled,
    the bounds spanning the exact rate-ratio interval against each reading alone.

    The host's speed drifts by tens of percent within a minute (one config read 9.5 answers/s before its arms and
    14.0 after them): the capacity during the arm lies between the readings, and a pooled count's interval would
    hide that drift."""
    if arm.ai is None:
        return None
    served = intervals.count_and_seconds(arm.ai.goodput_rps) or (arm.ai.goodput_rps.n, arm.window_s)
    counted = (intervals.count_and_seconds(c.rps) for c in (config.ai_capacity, config.ai_capacity_after) if c)
    readings = [found for found in counted if found is not None]
    if not readings:
        return None
    return intervals.rate_share(*served, readings,
                                "Poisson rate ratio against the capacity before and after the arms, spanning both")


def highest_ai_arm(config: ConfigResult, guard: str) -> LoadArm | None:
    """The arm with this guard and the most AI offered: where the guard's promises are judged."""
    arms = [a for a in config.arms if a.guard == guard and a.ai is not None]
    return max(arms, key=lambda a: a.ai_multiple) if arms else None


def guard_promises(config: ConfigResult, slo: SloConfig) -> list[Verdict]:
    """Per guard, at the highest AI multiple measured: reads in time and answered, AI answered or refused fast."""
    out = []
    for guard in ("on", "off"):
        arm = highest_ai_arm(config, guard)
        if arm is None:
            continue
        key = f"guard/{config.framework}/{config.mode}/{guard}"
        where = f"{config_name(config)}, {arm_name(arm)}"
        crud, ai = arm.crud, arm.ai
        unanswered = crud.offered - crud.answered
        out.append(Verdict(f"{key}/crud_p99", f"{where}: CRUD p99 within {slo.crud_p99_ms:g} ms",
                           within(crud.p99_ms, slo.crud_p99_ms),
                           f"CRUD p99 {ms(crud.p99_ms)}"))
        out.append(Verdict(f"{key}/reads_answered", f"{where}: every read answered 200",
                           "kept" if crud.non_200 == 0 and unanswered == 0 else "broken",
                           f"{crud.offered:,} reads offered, {crud.non_200:,} not 200, {unanswered:,} unanswered"))
        off_promise = {status: n for status, n in ai.status_mix.items() if status not in PROMISED_AI_STATUSES and n}
        out.append(Verdict(f"{key}/ai_statuses", f"{where}: AI answered only 200, 429 or 503",
                           "broken" if off_promise else "kept", f"AI status mix {status_text(ai.status_mix)}"))
        refused = ai.refusal_p99_ms
        out.append(Verdict(f"{key}/refusal_p99", f"{where}: refusals within {slo.refusal_p99_ms:g} ms (p99)",
                           "no refusals" if refused is None or refused.n == 0
                           else within(refused, slo.refusal_p99_ms),
                           f"refusal p99 {ms(refused)}" if refused is not None else "no request was refused"))
    return out


def goodput_figure(config: ConfigResult, slo: SloConfig) -> str | None:
    """The guarded service's AI goodput over its AI capacity at the highest multiple, as a figure and not a verdict.

    A verdict on the goodput promise needs the share's interval clear of 0.8, and this run cannot give it one: an
    arm of at most max_arm_s against capacity readings of a few windows each, drifting with the host, puts the
    share's interval at about +-25 %. The shares measured lie between 0.7 and 1.17, so the verdict flipped between
    "kept" and "cannot tell" from one run of the same commit to the next. bench.overload judges the promise, over a
    minute of overload against 30 s knee readings (docs/overload-tiny.md)."""
    arm = highest_ai_arm(config, "on")
    if arm is None or arm.ai is None:  # arm.ai is never None here; said again for the type checker
        return None
    share = goodput_share(arm, config)
    return (f"{config_name(config)}, {arm_name(arm)}: AI goodput {per_s(arm.ai.goodput_rps)} = "
            f"{share.text(2) if share else 'n/a'} of the AI capacity {per_s(config.capacity_around_arms())}"
            f"{_bracketed(config)} (the promise: at least {slo.goodput_of_capacity:.0%})")


def _bracketed(config: ConfigResult) -> str:
    if config.ai_capacity is None or config.ai_capacity_after is None:
        return ""
    return (f" (before the arms {per_s(config.ai_capacity.rps)}, after them {per_s(config.ai_capacity_after.rps)}: "
            "pooled for the estimate, the share's interval spans both)")


def status_text(mix: dict[str, int]) -> str:
    return ", ".join(f"{status}: {count:,}" for status, count in sorted(mix.items())) or "none"


# -- interference ---------------------------------------------------------------------------------------------


def alone_arm(run: Run, config: ConfigResult) -> tuple[LoadArm, ConfigResult] | None:
    """The reads with no AI beside them: on this service (the runner measures them in every AI config), else, in a
    run from before that, in the framework's config that did."""
    for found in [config] + [c for c in run.configs if c.framework == config.framework and c is not config]:
        arm = next((a for a in found.arms if a.ai_multiple == 0), None)
        if arm is not None:
            return arm, found
    return None


def interference(run: Run, config: ConfigResult, judgement: JudgementConfig) -> list[Verdict]:
    """Per arm with AI: are the reads slower than with no AI at all, by the latency margin?"""
    out = []
    baseline = alone_arm(run, config)
    if baseline is None:
        return out
    alone, where = baseline
    alone_name = "alone" if where is config else f"alone ({where.mode})"
    for arm in config.arms:
        if arm.ai_multiple == 0:
            continue
        for figure in ("p99_ms", "p50_ms"):
            beside, base = getattr(arm.crud, figure), getattr(alone.crud, figure)
            side = intervals.order_by_margin(beside, base, judgement.latency_ratio, judgement.latency_floor_ms)
            state = {1: "slower", -1: "faster", 0: CANNOT_TELL}[side]
            label = f"CRUD {figure.removesuffix('_ms')}"
            unanswered = arm.crud.offered - arm.crud.answered
            starved = f"; {unanswered:,} of {arm.crud.offered:,} reads unanswered" if unanswered else ""
            out.append(Verdict(
                f"interference/{config.framework}/{config.mode}/{arm.guard}/{arm.name}/crud_{figure.removesuffix('_ms')}",
                f"{config_name(config)}, {arm_name(arm)}: {label} beside AI against {alone_name}",
                state, f"{label} {ms(beside)} against {ms(base)} {alone_name}{starved}"))
    return out


# -- who copes best -------------------------------------------------------------------------------------------


def leader(figures: list[Figure], ranking: Ranking) -> str | None:
    """The framework better than every other one; None when none is."""
    for mine in figures:
        if all(ranking.better(mine, other) for other in figures if other is not mine):
            return mine.framework
    return None


def _known(figures: Iterable[Figure]) -> list[Figure]:
    return [f for f in figures if f.value is not None and (not isinstance(f.value, Interval) or f.value.estimate is not None)]


def lead_verdict(key: str, statement: str, figures: Iterable[Figure], ranking: Ranking) -> Verdict | None:
    known = _known(figures)
    if len(known) < 2:
        return None
    return Verdict(key, statement, leader(known, ranking) or CANNOT_TELL, "; ".join(f"{f.framework} {f.text}" for f in known))


def crud_capacity(run: Run, framework: str) -> Interval | None:
    """The framework's CRUD capacity: measured once, in its first config of the run."""
    found = next((c.crud_capacity for c in run.configs if c.framework == framework and c.crud_capacity), None)
    return found.rps if found else None


def idle_api_pss(config: ConfigResult | None, part: str = "api") -> float | None:
    reading = config.idle_memory.get(part) if config else None
    return reading.pss_mib if reading else None


def _mib(value: float | None) -> str:
    return f"{value:,.0f} MiB" if value is not None else "n/a"


def crud_capacity_figures(run: Run) -> list[Figure]:
    return [Figure(fw, crud_capacity(run, fw), per_s(crud_capacity(run, fw))) for fw in run.frameworks]


def ai_capacity_figures(run: Run, mode: str) -> list[Figure]:
    figures = []
    for fw in run.frameworks:
        found = run.config(fw, mode)
        rps = found.capacity_across_readings() if found else None
        figures.append(Figure(fw, rps, per_s(rps)))
    return figures


def memory_figures(run: Run, mode: str) -> list[Figure]:
    return [Figure(fw, idle_api_pss(run.config(fw, mode)), _mib(idle_api_pss(run.config(fw, mode))))
            for fw in run.frameworks]


def arm_figures(run: Run, mode: str, guard: str, multiple: float,
                pick: Callable[[LoadArm], Interval | None], show: Callable[[Interval | None], str]) -> list[Figure]:
    figures = []
    for fw in run.frameworks:
        config = run.config(fw, mode)
        arm = config.arm(guard, multiple) if config else None
        value = pick(arm) if arm else None
        figures.append(Figure(fw, value, show(value)))
    return figures


def _ai_goodput(arm: LoadArm) -> Interval | None:
    return arm.ai.goodput_rps if arm.ai else None


def who_copes_best(run: Run, judgement: JudgementConfig) -> list[Verdict]:
    latency = Ranking(higher_is_better=False, margin=judgement.latency_ratio, floor=judgement.latency_floor_ms)
    rate = Ranking(higher_is_better=True, margin=judgement.rate_ratio)
    memory = Ranking(higher_is_better=False, margin=judgement.memory_ratio)
    found: list[Verdict | None] = []
    for mode in [m for m in run.modes if m in AI_MODES]:
        points = {(a.guard, a.ai_multiple) for c in run.configs if c.mode == mode for a in c.arms if a.ai_multiple > 0}
        for guard, multiple in sorted(points, key=lambda point: (point[0] != "on", point[1])):
            where = f"{mode}, guard {guard}, AI at {multiple:g}x"
            key = f"lead/{mode}/{multiple:g}x/{guard}"
            found.append(lead_verdict(f"{key}/crud_p99", f"{where}: lowest CRUD p99",
                                      arm_figures(run, mode, guard, multiple, lambda a: a.crud.p99_ms, ms), latency))
            found.append(lead_verdict(f"{key}/ai_goodput", f"{where}: highest AI goodput",
                                      arm_figures(run, mode, guard, multiple, _ai_goodput, per_s), rate))
        found.append(lead_verdict(f"lead/{mode}/ai_capacity", f"{mode}: highest AI capacity",
                                  ai_capacity_figures(run, mode), rate))
    found.append(lead_verdict("lead/crud_capacity", "highest CRUD capacity", crud_capacity_figures(run), rate))
    for mode in run.modes:
        found.append(lead_verdict(f"lead/{mode}/idle_api_memory", f"{mode}: least idle API memory (PSS)",
                                  memory_figures(run, mode), memory))
    return [v for v in found if v is not None]


# -- the original study's claims ------------------------------------------------------------------------------


def claim_part(subject: str, figures: list[Figure], ranking: Ranking) -> str | None:
    """'holds' when subject beats every other framework, 'fails' when another beats it, else 'tie'."""
    known = _known(figures)
    mine = next((f for f in known if f.framework == subject), None)
    others = [f for f in known if f.framework != subject]
    if mine is None or not others:
        return None
    if all(ranking.better(mine, other) for other in others):
        return "holds"
    if any(ranking.better(other, mine) for other in others):
        return "fails"
    return "tie"


def _claim(key: str, claim: str, subject: str, run: Run,
           parts: list[tuple[str, list[Figure], Ranking]]) -> Verdict:
    """CONFIRMED when every comparison holds, REFUTED when one fails, INCONCLUSIVE otherwise (or unmeasured)."""
    states, notes = [], []
    for label, figures, ranking in parts:
        state = claim_part(subject, figures, ranking)
        if state is None:
            continue
        states.append(state)
        notes.append(f"{label}: {state} ({'; '.join(f'{f.framework} {f.text}' for f in _known(figures))})")
    if "fails" in states:
        state = "REFUTED"
    elif states and all(s == "holds" for s in states):
        state = "CONFIRMED"
    else:
        state = "INCONCLUSIVE"
    if subject not in run.frameworks or len(run.frameworks) < 2:
        notes = [f"needs {subject} and at least one other framework in the run"]
    return Verdict(key, claim, state, "; ".join(notes) or "not measured")


def claims(run: Run, judgement: JudgementConfig) -> list[Verdict]:
    rate = Ranking(higher_is_better=True, margin=judgement.rate_ratio)
    slow = Ranking(higher_is_better=False, margin=judgement.rate_ratio)
    more_latency = Ranking(higher_is_better=True, margin=judgement.latency_ratio, floor=judgement.latency_floor_ms)
    least_memory = Ranking(higher_is_better=False, margin=judgement.memory_ratio)
    most_memory = Ranking(higher_is_better=True, margin=judgement.memory_ratio)
    ai_modes = [m for m in run.modes if m in AI_MODES]
    fastapi = [(f"AI capacity, {mode}", ai_capacity_figures(run, mode), rate) for mode in ai_modes]
    fastapi.append(("CRUD capacity", crud_capacity_figures(run), rate))
    fastapi += [(f"CRUD p50 beside AI at 1x, guard on, {mode}",
                 arm_figures(run, mode, "on", 1.0, lambda a: a.crud.p50_ms, ms), more_latency) for mode in ai_modes]
    flask = [(f"idle API PSS, {mode}", memory_figures(run, mode), least_memory) for mode in run.modes]
    django = [(f"idle API PSS, {mode}", memory_figures(run, mode), most_memory) for mode in run.modes]
    django.append(("CRUD capacity (lowest)", crud_capacity_figures(run), slow))
    return [
        _claim("claim/fastapi_throughput_latency", "FastAPI has the highest throughput but more latency under "
               "concurrent AI", "fastapi", run, fastapi),
        _claim("claim/flask_least_memory", "Flask uses the least memory", "flask", run, flask),
        _claim("claim/django_most_memory_slowest", "Django uses the most memory and is the slowest", "django", run,
               django),
    ]


def verdicts(run: Run, config: JudgementConfig, slo: SloConfig) -> list[Verdict]:
    """Every verdict of the run, in the report's order: promises, interference, who copes best, the claims."""
    out: list[Verdict] = []
    for found in run.configs:
        if found.mode in AI_MODES:
            out += guard_promises(found, slo)
    for found in run.configs:
        out += interference(run, found, config)
    return out + who_copes_best(run, config) + claims(run, config)
