"""The original study's three claims, each judged from this run's numbers (never from typed-in figures).

Each claim is checked mode by mode, on 95 % intervals (bench/intervals.py). In a mode a part "holds" when the named
framework's interval is separated from every other framework's, on the claimed side; "fails" when another
framework's interval is separated from it on the other side; and is a "tie" (the run cannot tell them apart)
otherwise. A claim is CONFIRMED when some mode holds and none fails, REFUTED when some mode fails, and
INCONCLUSIVE when nothing could be told apart (or was not measured).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.result_reader import ResultReader, fmt_bracket
from bench.intervals import Interval, order

AI_MODES = ("inprocess", "remote")


@dataclass(frozen=True)
class Verdict:
    claim: str
    verdict: str  # CONFIRMED, REFUTED or INCONCLUSIVE
    reason: str


def _describe(values: dict[str, Interval | None], digits: int, unit: str) -> str:
    return ", ".join(f"{fw} {v.text(digits, unit)}" for fw, v in values.items() if v is not None and v.estimate is not None)


def _describe_rates(values: dict[str, Interval | None]) -> str:
    return ", ".join(f"{fw} {v.estimate:g} it/s {fmt_bracket(v)}" for fw, v in values.items() if v is not None)


def compare_one(values: dict[str, Interval | None], subject: str, highest: bool) -> str | None:
    """'holds', 'fails' or 'tie' for "subject has the highest (or lowest) value"; None without enough data.

    Only separated intervals count: subject holds when it is separated from every other framework on the claimed
    side, fails when any other is separated from it on that side."""
    known = {k: v for k, v in values.items() if v is not None and v.estimate is not None}
    mine = known.get(subject)
    others = [v for k, v in known.items() if k != subject]
    if mine is None or not others:
        return None
    better = 1 if highest else -1
    if all(order(mine, other) == better for other in others):
        return "holds"
    if any(order(other, mine) == better for other in others):
        return "fails"
    return "tie"


def leader(values: dict[str, Interval | None], highest: bool) -> str | None:
    """The framework whose interval is separated from every other's on the better side; None when none is."""
    for framework in values:
        if compare_one(values, framework, highest) == "holds":
            return framework
    return None


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


def _rates(reader: ResultReader, mode: str) -> tuple[dict[str, Interval | None], bool]:
    """Max ai_mixed rate within the SLO per framework as a search bracket, and whether every search found its limit."""
    rates, found_limit = {}, True
    for fw in reader.frameworks:
        rates[fw] = reader.capacity(fw, mode, "ai_mixed")
        if reader.rate_capped(fw, mode, "ai_mixed"):
            found_limit = False
    return rates, found_limit


def _throughput_part(reader: ResultReader, subject: str, highest: bool, modes) -> tuple[str, list[str]]:
    states, notes = [], []
    for mode in modes:
        rates, found_limit = _rates(reader, mode)
        state = compare_one(rates, subject, highest)
        if state is None:
            continue
        if not found_limit:
            bounds = ", ".join(f"{fw} {reader.rate_text(fw, mode, 'ai_mixed')} it/s" for fw in reader.frameworks
                               if rates.get(fw) is not None)
            notes.append(f"{mode}: not told apart, a search never missed the SLO so its rate is only a lower bound ({bounds})")
            continue
        states.append(state)
        notes.append(f"{mode}: {state} — max ai_mixed rate within SLO, [passed, first missed) {_describe_rates(rates)}")
    return _combine(states), notes


def claim_fastapi(reader: ResultReader) -> Verdict:
    claim = "FastAPI has the highest throughput but more latency under concurrent AI"
    if "fastapi" not in reader.frameworks or len(reader.frameworks) < 2:
        return Verdict(claim, "INCONCLUSIVE", "needs FastAPI and at least one other framework in the run")
    modes = [m for m in AI_MODES if m in reader.modes]
    tp_state, tp_notes = _throughput_part(reader, "fastapi", True, modes)
    lat_states, lat_notes = [], []
    for mode in modes:
        # p50 of the CRUD requests sharing the server with in-flight AI: p99 over a few requests is too noisy to rank.
        p50 = {fw: reader.interval(fw, mode, "ai_mixed", "crud_p50_ms") for fw in reader.frameworks}
        p99 = {fw: reader.interval(fw, mode, "ai_mixed", "crud_p99_ms") for fw in reader.frameworks}
        state = compare_one(p50, "fastapi", True)
        if state is None:
            continue
        lat_states.append(state)
        lat_notes.append(f"{mode}: {state} — CRUD p50 during the AI mix {_describe(p50, 2, ' ms')} "
                         f"(p99 {_describe(p99, 1, ' ms')})")
    lat_state = _combine(lat_states)
    reason = (f"throughput part {tp_state} ({'; '.join(tp_notes) or 'no saturation search with AI on'}); "
              f"latency part {lat_state} ({'; '.join(lat_notes) or 'no ai_mixed results with AI on'})")
    return Verdict(claim, _verdict(tp_state, lat_state), reason)


def _memory_part(reader: ResultReader, subject: str, highest: bool) -> tuple[str, list[str]]:
    states, notes = [], []
    for mode in reader.modes:
        # The API's own process tree: in remote mode the inference service is the same for every framework.
        values = {fw: reader.memory_interval(fw, mode) for fw in reader.frameworks}
        state = compare_one(values, subject, highest)
        if state is None:
            continue
        states.append(state)
        notes.append(f"{mode}: {state} — API PSS {_describe(values, 0, ' MiB')}")
    return _combine(states), notes


def claim_flask_memory(reader: ResultReader) -> Verdict:
    claim = "Flask uses the least memory"
    if "flask" not in reader.frameworks or len(reader.frameworks) < 2:
        return Verdict(claim, "INCONCLUSIVE", "needs Flask and at least one other framework in the run")
    state, notes = _memory_part(reader, "flask", highest=False)
    reason = f"peak PSS of each API's whole process tree under load, per mode: {'; '.join(notes) or 'no data'}"
    return Verdict(claim, _verdict(state), reason)


def claim_django(reader: ResultReader) -> Verdict:
    claim = "Django uses the most memory and is the slowest"
    if "django" not in reader.frameworks or len(reader.frameworks) < 2:
        return Verdict(claim, "INCONCLUSIVE", "needs Django and at least one other framework in the run")
    mem_state, mem_notes = _memory_part(reader, "django", highest=True)
    speed_state, speed_notes = _throughput_part(reader, "django", False, reader.modes)
    if speed_state == "not measured":
        # Without a saturation search, "slowest" falls back to the CRUD median latency at the fixed rate.
        states = []
        for mode in reader.modes:
            scenario = "crud" if reader.scenario("django", mode, "crud") else "ai_mixed"
            p50 = {fw: reader.interval(fw, mode, scenario, "crud_p50_ms") for fw in reader.frameworks}
            state = compare_one(p50, "django", True)
            if state is not None:
                states.append(state)
                speed_notes.append(f"instead {mode}: {state} — CRUD p50 in {scenario} {_describe(p50, 2, ' ms')}")
        speed_state = _combine(states)
    reason = (f"memory part {mem_state} ({'; '.join(mem_notes) or 'no data'}); "
              f"speed part {speed_state} ({'; '.join(speed_notes) or 'no data'})")
    return Verdict(claim, _verdict(mem_state, speed_state), reason)


def judge_all(reader: ResultReader) -> list[Verdict]:
    return [claim_fastapi(reader), claim_flask_memory(reader), claim_django(reader)]
