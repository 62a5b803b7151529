"""The original study's three claims, each judged from this run's numbers (never from typed-in figures).

Each claim is checked mode by mode. In a mode a part "holds" when the named framework leads every other one by
more than the tie margin, "fails" when another framework leads it by more than the margin, and is a "tie"
otherwise. A claim is CONFIRMED when some mode holds and none fails, REFUTED when some mode fails, and
INCONCLUSIVE when nothing could be told apart (or was not measured).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.figures import Figures, fmt

AI_MODES = ("inprocess", "remote")
# Differences smaller than these are not told apart: memory is steady, latency and rates are noisier.
MEMORY_MARGIN = 0.03
LATENCY_MARGIN = 0.10
RATE_MARGIN = 0.05


@dataclass(frozen=True)
class Verdict:
    claim: str
    verdict: str  # CONFIRMED, REFUTED or INCONCLUSIVE
    reason: str


def _describe(values: dict[str, float | None], digits: int, unit: str) -> str:
    return ", ".join(f"{fw} {fmt(v, digits, unit)}" for fw, v in values.items() if v is not None)


def compare_one(values: dict[str, float | None], subject: str, highest: bool, margin: float) -> str | None:
    """'holds', 'fails' or 'tie' for "subject has the highest (or lowest) value"; None without enough data."""
    others = [v for k, v in values.items() if k != subject and v is not None]
    mine = values.get(subject)
    if mine is None or not others:
        return None
    best_other = max(others) if highest else min(others)
    if best_other == 0:
        return "tie" if mine == 0 else ("holds" if (mine > 0) == highest else "fails")
    lead = (mine - best_other) / abs(best_other) if highest else (best_other - mine) / abs(best_other)
    if lead > margin:
        return "holds"
    if lead < -margin:
        return "fails"
    return "tie"


def _combine(states: list[str]) -> str:
    if not states:
        return "not measured"
    if "fails" in states:
        return "fails"
    if "holds" in states:
        return "holds"
    return "tie"


def _verdict(*parts: str) -> str:
    if "fails" in parts:
        return "REFUTED"
    if all(p == "holds" for p in parts):
        return "CONFIRMED"
    return "INCONCLUSIVE"


def _rates(fig: Figures, mode: str) -> tuple[dict[str, float | None], bool]:
    """Max ai_mixed rate within the SLO per framework, and whether every search found its limit."""
    rates, found_limit = {}, True
    for fw in fig.frameworks:
        config = fig.config(fw, mode) or {}
        search = config.get("saturation", {}).get("ai_mixed")
        rates[fw] = search.get("max_rate") if search else None
        if search and search.get("capped"):
            found_limit = False
    return rates, found_limit


def _throughput_part(fig: Figures, subject: str, highest: bool, modes) -> tuple[str, list[str]]:
    states, notes = [], []
    for mode in modes:
        rates, found_limit = _rates(fig, mode)
        state = compare_one(rates, subject, highest, RATE_MARGIN)
        if state is None:
            continue
        if not found_limit:
            bounds = ", ".join(f"{fw} {fig.rate_text(fw, mode, 'ai_mixed')} it/s" for fw in fig.frameworks
                               if rates.get(fw) is not None)
            notes.append(f"{mode}: not told apart, a search never missed the SLO so its rate is only a lower bound ({bounds})")
            continue
        states.append(state)
        notes.append(f"{mode}: {state} — max ai_mixed rate within SLO {_describe(rates, 1, ' it/s')}")
    return _combine(states), notes


def claim_fastapi(fig: Figures) -> Verdict:
    claim = "FastAPI has the highest throughput but more latency under concurrent AI"
    if "fastapi" not in fig.frameworks or len(fig.frameworks) < 2:
        return Verdict(claim, "INCONCLUSIVE", "needs FastAPI and at least one other framework in the run")
    modes = [m for m in AI_MODES if m in fig.modes]
    tp_state, tp_notes = _throughput_part(fig, "fastapi", True, modes)
    lat_states, lat_notes = [], []
    for mode in modes:
        # p50 of the CRUD requests sharing the server with in-flight AI: p99 over a few requests is too noisy to rank.
        p50 = {fw: fig.get(fw, mode, "ai_mixed", "crud_p50_ms") for fw in fig.frameworks}
        p99 = {fw: fig.get(fw, mode, "ai_mixed", "crud_p99_ms") for fw in fig.frameworks}
        state = compare_one(p50, "fastapi", True, LATENCY_MARGIN)
        if state is None:
            continue
        lat_states.append(state)
        lat_notes.append(f"{mode}: {state} — CRUD p50 during the AI mix {_describe(p50, 2, ' ms')} "
                         f"(p99 {_describe(p99, 1, ' ms')})")
    lat_state = _combine(lat_states)
    reason = (f"throughput part {tp_state} ({'; '.join(tp_notes) or 'no saturation search with AI on'}); "
              f"latency part {lat_state} ({'; '.join(lat_notes) or 'no ai_mixed results with AI on'})")
    return Verdict(claim, _verdict(tp_state, lat_state), reason)


def _memory_part(fig: Figures, subject: str, highest: bool) -> tuple[str, list[str]]:
    states, notes = [], []
    for mode in fig.modes:
        # The API's own process tree: in remote mode the inference service is the same for every framework.
        values = {fw: fig.memory_parts(fw, mode)[0] for fw in fig.frameworks}
        state = compare_one(values, subject, highest, MEMORY_MARGIN)
        if state is None:
            continue
        states.append(state)
        notes.append(f"{mode}: {state} — API PSS {_describe(values, 0, ' MiB')}")
    return _combine(states), notes


def claim_flask_memory(fig: Figures) -> Verdict:
    claim = "Flask uses the least memory"
    if "flask" not in fig.frameworks or len(fig.frameworks) < 2:
        return Verdict(claim, "INCONCLUSIVE", "needs Flask and at least one other framework in the run")
    state, notes = _memory_part(fig, "flask", highest=False)
    reason = f"peak PSS of each API's whole process tree under load, per mode: {'; '.join(notes) or 'no data'}"
    return Verdict(claim, _verdict(state), reason)


def claim_django(fig: Figures) -> Verdict:
    claim = "Django uses the most memory and is the slowest"
    if "django" not in fig.frameworks or len(fig.frameworks) < 2:
        return Verdict(claim, "INCONCLUSIVE", "needs Django and at least one other framework in the run")
    mem_state, mem_notes = _memory_part(fig, "django", highest=True)
    speed_state, speed_notes = _throughput_part(fig, "django", False, fig.modes)
    if speed_state == "not measured":
        # Without a saturation search, "slowest" falls back to the CRUD median latency at the fixed rate.
        states = []
        for mode in fig.modes:
            scenario = "crud" if fig.scenario("django", mode, "crud") else "ai_mixed"
            p50 = {fw: fig.get(fw, mode, scenario, "crud_p50_ms") for fw in fig.frameworks}
            state = compare_one(p50, "django", True, LATENCY_MARGIN)
            if state is not None:
                states.append(state)
                speed_notes.append(f"instead {mode}: {state} — CRUD p50 in {scenario} {_describe(p50, 2, ' ms')}")
        speed_state = _combine(states)
    reason = (f"memory part {mem_state} ({'; '.join(mem_notes) or 'no data'}); "
              f"speed part {speed_state} ({'; '.join(speed_notes) or 'no data'})")
    return Verdict(claim, _verdict(mem_state, speed_state), reason)


def judge_all(fig: Figures) -> list[Verdict]:
    return [claim_fastapi(fig), claim_flask_memory(fig), claim_django(fig)]
