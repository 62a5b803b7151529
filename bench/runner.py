"""The benchmark run: every framework x mode config, its scenarios' trials, saturation and the batching check."""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from bench import corpus, results, saturation, stats
from bench.config import AI_SCENARIOS, BenchConfig
from bench.k6run import K6Failed, Samples, k6_version, read_samples, run_window
from bench.processes import PortTaken, ServiceFailed
from bench.serverstats import TreeSampler, snapshot
from bench.services import RunningConfig, seed_posts, start_config

# Rough seconds, only for the ETA: start-up per mode and what k6 adds to every window (start, setup, drain).
STARTUP_ESTIMATE_S = {"off": 6.0, "inprocess": 30.0, "remote": 25.0}
K6_OVERHEAD_S = 1.0


@dataclass(frozen=True)
class Pinning:
    service_cpus: tuple[int, ...] | None
    k6_cpus: tuple[int, ...] | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"service_cpus": list(self.service_cpus or []), "k6_cpus": list(self.k6_cpus or []),
                "pinned": self.service_cpus is not None, "method": "sched_setaffinity (taskset) on each process group",
                "note": self.note}


def plan_pinning(config: BenchConfig) -> Pinning:
    """Services on their own cores, k6 and this runner on the others; nothing pinned on a 1-core machine."""
    available = sorted(os.sched_getaffinity(0))
    wanted = config.pinning
    if wanted.service_cpus != "auto" and wanted.k6_cpus != "auto":
        missing = sorted((set(wanted.service_cpus) | set(wanted.k6_cpus)) - set(available))
        if missing:
            raise SystemExit(f"[pinning] names CPUs {missing} that this process may not use (allowed: {available})")
        return Pinning(tuple(wanted.service_cpus), tuple(wanted.k6_cpus), "as configured")
    if len(available) < 2:
        return Pinning(None, None, f"only {len(available)} core available: services and k6 share it, unpinned")
    half = len(available) // 2
    return Pinning(tuple(available[:half]), tuple(available[half:]),
                   f"{len(available)} cores: services (API and inference together) on the first half, k6 on the rest")


class Progress:
    """One line per step with the config, trial, window and an ETA from the planned schedule."""

    def __init__(self, planned_s: float, stream=sys.stdout) -> None:
        self.planned_s = max(planned_s, 1.0)
        self.done_s = 0.0
        self.started = time.monotonic()
        self.stream = stream

    def advance(self, planned_s: float) -> None:
        self.done_s += planned_s

    def eta_s(self) -> float:
        elapsed = time.monotonic() - self.started
        if self.done_s <= 0:
            return self.planned_s
        pace = elapsed / self.done_s
        return max(0.0, (self.planned_s - self.done_s) * pace)

    def say(self, where: str, what: str) -> None:
        elapsed = time.monotonic() - self.started
        self.stream.write(f"[{_clock(elapsed)} elapsed, ETA {_clock(self.eta_s())}] {where}: {what}\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s"


def scenarios_for(config: BenchConfig, mode: str) -> list[str]:
    # Single AI tasks with AI off would only measure 503s; ai_mixed keeps its CRUD part and fast 503s as the baseline.
    return [s for s in config.matrix.scenarios if not (mode == "off" and s in AI_SCENARIOS)]


def planned_seconds(config: BenchConfig) -> float:
    m = config.matrix
    total = 0.0
    for framework in m.frameworks:
        for mode in m.modes:
            total += STARTUP_ESTIMATE_S[mode]
            windows = len(scenarios_for(config, mode)) * m.trials
            total += windows * (m.warmup_s + m.window_s + 2 * K6_OVERHEAD_S)
            for _ in config.saturation.applies(framework, mode):
                total += config.saturation.max_steps * (config.saturation.step_s + K6_OVERHEAD_S)
    if config.batching.enabled:
        total += 2 * (STARTUP_ESTIMATE_S["remote"] + config.batching.trials * (m.warmup_s + config.batching.window_s + 2 * K6_OVERHEAD_S))
    return total


class Runner:
    def __init__(self, config: BenchConfig, out_dir: Path, run_id: str | None = None) -> None:
        self.config = config
        self.run_id = run_id or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        # Absolute: the services run from their own directories and get paths (database, logs) inside this one.
        self.run_dir = Path(out_dir).resolve() / self.run_id
        self.result_path = self.run_dir / "result.json"
        self.pinning = plan_pinning(config)
        self.progress = Progress(planned_seconds(config))
        self.window_counter = 0
        self.ai_texts: Path | None = None
        self.words_sent: list[float] = []
        self.result: dict[str, Any] = {
            "schema_version": results.SCHEMA_VERSION,
            "run_id": self.run_id,
            "interrupted": False,
            "metadata": {},
            "configs": [],
            "batching": None,
            "failures": [],
        }
        self._started_wall = time.time()

    # -- metadata ---------------------------------------------------------------------------------------------
    def _metadata(self, ended: bool) -> dict[str, Any]:
        svc = self.config.services
        meta = results.base_metadata() if not self.result["metadata"] else dict(self.result["metadata"])
        meta.update({
            "k6_version": meta.get("k6_version") or k6_version(),
            "pinning": self.pinning.to_dict(),
            "started_at": datetime.fromtimestamp(self._started_wall, timezone.utc).isoformat(),
            "ended_at": datetime.now(timezone.utc).isoformat() if ended else None,
            "wall_s": time.time() - self._started_wall,
            "models": {
                "model_source": svc.model_source, "model_profile": svc.model_profile,
                "summary_max_new_tokens": svc.summary_max_new_tokens, "title_max_new_tokens": svc.title_max_new_tokens,
                "num_beams": svc.num_beams,
            },
            "workers": {"web_workers": svc.web_workers, "web_threads": svc.web_threads,
                        "ai_max_concurrency": svc.ai_max_concurrency, "ai_bulkhead": svc.ai_bulkhead,
                        "ai_guard": svc.ai_guard},
            "config": self.config.to_dict(),
            "planned_s": self.progress.planned_s,
        })
        if ended:
            meta["load_average_at_end"] = list(os.getloadavg())
        return meta

    def _prepare_texts(self) -> None:
        try:
            self.ai_texts, described = corpus.prepare()
        except corpus.CorpusUnavailable as exc:
            described = {"source": f"templates: the real-text corpus is unavailable ({exc})"}
            self.progress.say("run", f"WARNING: AI requests will carry template text, not real articles: {exc}")
        self.result["request_bodies"] = described

    def save(self, ended: bool = False) -> None:
        if "request_bodies" in self.result:
            self.result["request_bodies"]["words_sent"] = corpus.length_stats(self.words_sent)
        self.result["metadata"] = self._metadata(ended)
        results.save(self.result, self.result_path)

    # -- windows ----------------------------------------------------------------------------------------------
    def _window(self, running: RunningConfig, scenario: str, rate: float, duration_s: float, seed_ids: list[int],
                label: str, grace_s: float | None = None) -> dict[str, Any]:
        self.window_counter += 1
        k6_dir = self.run_dir / "k6"
        stem = f"{self.window_counter:04d}-{running.framework}-{running.mode}-{scenario}-{label}"
        sampler = TreeSampler(running.roots(), interval_s=min(1.0, duration_s / 4)).start()
        try:
            window = run_window(
                scenario=scenario, base_url=running.base_url, target_name=running.framework, rate=rate,
                duration_s=duration_s, seed_ids=seed_ids, summary_path=k6_dir / f"{stem}.json",
                log_path=k6_dir / f"{stem}.log", cpus=self.pinning.k6_cpus, ai_disabled_ok=running.mode == "off",
                grace_s=self._grace_s(scenario) if grace_s is None else grace_s,
                extra_env={"AI_TEXTS": str(self.ai_texts)} if self.ai_texts else None,
            )
        finally:
            server = sampler.stop()
        total = server.get("total", {})
        if total and window["requests"]:
            total["cpu_ms_per_request"] = 1000.0 * total["cpu_s"] / window["requests"]
        window["server"] = server
        return window

    def _grace_s(self, scenario: str) -> float:
        """In-flight requests may finish for as long as the scenario's p99 objective (+1 s), then are cut off and
        counted as unfinished: a request slower than that has missed the objective anyway."""
        limit_ms = self.config.slo.p99_ms.get(scenario, 3000.0)
        return max(3.0, limit_ms / 1000.0 + 1.0)

    def _trials(self, running: RunningConfig, scenario: str, rate: float, trials: int, seed_ids: list[int],
                where: str, window_s: float | None = None, grace_s: float | None = None) -> dict[str, Any]:
        m = self.config.matrix
        window_s = window_s or m.window_s
        windows: list[dict[str, Any]] = []
        samples: list[Samples] = []
        for trial in range(1, trials + 1):
            if m.warmup_s > 0:
                self.progress.say(where, f"{scenario} trial {trial}/{trials}: warm-up {m.warmup_s:g}s at {rate:g}/s")
                self._window(running, scenario, rate, m.warmup_s, seed_ids, f"t{trial}-warmup", grace_s)
            self.progress.say(where, f"{scenario} trial {trial}/{trials}: measuring {window_s:g}s at {rate:g}/s")
            window = self._window(running, scenario, rate, window_s, seed_ids, f"t{trial}", grace_s)
            windows.append(window)
            if window.get("samples_file"):
                samples.append(read_samples(Path(window["samples_file"]), running.framework))
                self.words_sent.extend(samples[-1].text_words)
            self.progress.advance(m.warmup_s + window_s + 2 * K6_OVERHEAD_S)
            p99 = window["latency_ms"].get("all", {}).get("p99")
            self.progress.say(where, f"{scenario} trial {trial}: {window['throughput_rps']:.1f} req/s, "
                              f"p99 {p99 if p99 is None else round(p99, 1)} ms, errors {100 * window['error_rate']:.1f}%")
        # Intervals pool the trials' requests only when every trial left its samples: a partial pool would mislead.
        aggregate = stats.aggregate(windows, m.spread_flag, samples if len(samples) == len(windows) else None)
        if aggregate["flagged"]:
            self.progress.say(where, f"{scenario}: trials disagree by > {100 * m.spread_flag:.0f}% on "
                              f"{', '.join(aggregate['disagree'])}")
        return {"rate": rate, "trials": windows, "aggregate": aggregate}

    def _saturate(self, running: RunningConfig, scenario: str, seed_ids: list[int], where: str) -> dict[str, Any]:
        sat = self.config.saturation

        def measure(rate: float) -> dict[str, Any]:
            self.progress.say(where, f"saturation {scenario}: {sat.step_s:g}s at {rate:g}/s")
            window = self._window(running, scenario, rate, sat.step_s, seed_ids, f"sat{rate:g}")
            self.progress.advance(sat.step_s + K6_OVERHEAD_S)
            return window

        found = saturation.search(measure, start_rate=sat.start_for(scenario, running.mode), max_steps=sat.max_steps,
                                  max_rate=sat.max_rate, p99_limit_ms=self.config.slo.p99_ms[scenario], slo=self.config.slo)
        # Steps not run (the search stopped early) are credited so the ETA stays honest.
        self.progress.advance((sat.max_steps - len(found["steps"])) * (sat.step_s + K6_OVERHEAD_S))
        self.progress.say(where, f"saturation {scenario}: max rate within SLO = {found['max_rate']}")
        return found

    # -- configs ----------------------------------------------------------------------------------------------
    def _fail(self, where: str, exc: BaseException) -> None:
        message = str(exc)
        self.result["failures"].append({"where": where, "message": message})
        self.progress.say(where, f"FAILED: {message}")

    def _start(self, framework: str, mode: str, where: str, extra_env: dict[str, str] | None = None,
               tag: str = "") -> RunningConfig:
        self.progress.say(where, "starting services")
        running = start_config(framework, mode, self.config.services, self.run_dir, self.pinning.service_cpus,
                               inference_extra_env=extra_env, tag=tag)
        self.progress.advance(STARTUP_ESTIMATE_S[mode])
        self.progress.say(where, f"ready after {running.startup_s:.1f}s at {running.base_url}")
        return running

    def _ready_detail(self, running: RunningConfig) -> dict[str, Any]:
        try:
            return httpx.get(f"{running.base_url}/ready", timeout=5.0).json()
        except (httpx.HTTPError, ValueError):
            return {}

    def run_config(self, index: int, total: int, framework: str, mode: str) -> None:
        where = f"[{index}/{total} {framework}/{mode}]"
        m = self.config.matrix
        record: dict[str, Any] = {"framework": framework, "mode": mode, "scenarios": {}, "saturation": {}}
        running = None
        try:
            running = self._start(framework, mode, where)
            record["startup_s"] = running.startup_s
            record["ports"] = running.ports
            record["models"] = self._ready_detail(running)
            seed_ids = seed_posts(running.base_url, m.seed_posts)
            record["idle_memory"] = {name: snapshot(pid) for name, pid in running.roots().items()}
            for scenario in scenarios_for(self.config, mode):
                record["scenarios"][scenario] = self._trials(running, scenario, self.config.rates[scenario],
                                                             m.trials, seed_ids, where)
                self.save()
            for scenario in self.config.saturation.applies(framework, mode):
                record["saturation"][scenario] = self._saturate(running, scenario, seed_ids, where)
        except (ServiceFailed, PortTaken, K6Failed) as exc:
            self._fail(where, exc)
        finally:
            if running:
                running.stop()
            self.result["configs"].append(record)
            self.save()

    def run_batching(self) -> None:
        bat = self.config.batching
        m = self.config.matrix
        outcome: dict[str, Any] = {"framework": bat.framework, "scenario": bat.scenario, "rate": bat.rate,
                                   "window_s": bat.window_s, "grace_s": bat.grace_s,
                                   "unbatched_env": bat.unbatched_env, "variants": {}, "inference_batches": {}}
        for variant, extra in (("batched", {}), ("unbatched", bat.unbatched_env)):
            where = f"[batching {variant}]"
            running = None
            try:
                running = self._start(bat.framework, "remote", where, extra_env=extra, tag=f"-{variant}")
                seed_ids = seed_posts(running.base_url, m.seed_posts)
                outcome["variants"][variant] = self._trials(running, bat.scenario, bat.rate, bat.trials, seed_ids, where,
                                                             window_s=bat.window_s, grace_s=bat.grace_s)
                outcome["inference_batches"][variant] = inference_batch_sizes(running)
            except (ServiceFailed, PortTaken, K6Failed) as exc:
                self._fail(where, exc)
            finally:
                if running:
                    running.stop()
        self.result["batching"] = outcome
        self.save()

    def run(self) -> dict[str, Any]:
        if self.pinning.k6_cpus:
            # This process samples the servers; it must not steal cycles from the services' cores.
            os.sched_setaffinity(0, self.pinning.k6_cpus)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_texts()
        self.save()
        m = self.config.matrix
        configs = [(fw, mode) for mode in m.modes for fw in m.frameworks]
        self.progress.say("run", f"{len(configs)} configs, planned about {_clock(self.progress.planned_s)}; "
                          f"pinning: {self.pinning.note}; results in {self.run_dir}")
        for index, (framework, mode) in enumerate(configs, 1):
            self.run_config(index, len(configs), framework, mode)
        if self.config.batching.enabled:
            self.run_batching()
        self.save(ended=True)
        return self.result


_HIST_LINE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*batch_size[\w:]*)_(?P<kind>sum|count)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")


def inference_batch_sizes(running: RunningConfig) -> dict[str, Any]:
    """Mean batch size per task from the inference service's batch-size histogram (whatever its exact name)."""
    port = running.ports.get("inference_metrics")
    if not port:
        return {}
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5.0).text
    except httpx.HTTPError:
        return {}
    sums: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        match = _HIST_LINE.match(line)
        if not match:
            continue
        task = re.search(r'task="([^"]+)"', match.group("labels") or "")
        key = task.group(1) if task else "all"
        sums.setdefault(key, {"sum": 0.0, "count": 0.0})[match.group("kind")] += float(match.group("value"))
    return {task: {"batches": v["count"], "mean_batch_size": v["sum"] / v["count"]} for task, v in sums.items() if v["count"]}
