"""The benchmark run: the CRUD rotation (every framework with AI off), the centre experiment for every framework x
AI mode, then the compass figures; one result file."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import centre, compass, corpus, rotation, steadiness
from bench.config import BenchConfig
from bench.context import RunContext
from bench.k6run import K6Failed, k6_version
from bench.machine import git_commit, machine, package_versions
from bench.model import AICapacity, ConfigResult, CpuSteadiness, Failure, Metadata, Pinning, Run, save
from bench.processes import PortTaken, ServiceFailed


def plan_pinning(config: BenchConfig) -> Pinning:
    """Services on their own cores, k6 and this runner on the others; nothing pinned on a 1-core machine."""
    available = sorted(os.sched_getaffinity(0))
    wanted = config.pinning
    if wanted.service_cpus != "auto" and wanted.k6_cpus != "auto":
        missing = sorted((set(wanted.service_cpus) | set(wanted.k6_cpus)) - set(available))
        if missing:
            raise SystemExit(f"[pinning] names CPUs {missing} that this process may not use (allowed: {available})")
        return Pinning(service_cpus=list(wanted.service_cpus), k6_cpus=list(wanted.k6_cpus), pinned=True,
                       note="as configured")
    if len(available) < 2:
        return Pinning(service_cpus=[], k6_cpus=[], pinned=False,
                       note=f"only {len(available)} core available: services and k6 share it, unpinned")
    half = len(available) // 2
    return Pinning(service_cpus=available[:half], k6_cpus=available[half:], pinned=True,
                   note=f"{len(available)} cores: services (API and inference together) on the first half, k6 and "
                        "the runner on the rest")


class Progress:
    """One line per step with where the run is, the time spent and an ETA from the planned schedule."""

    def __init__(self, planned_s: float, stream=sys.stdout) -> None:
        self.planned_s = max(planned_s, 1.0)
        self.started = time.monotonic()
        self.stream = stream

    def say(self, where: str, what: str) -> None:
        elapsed = time.monotonic() - self.started
        left = max(0.0, self.planned_s - elapsed)
        self.stream.write(f"[{_clock(elapsed)} elapsed, about {_clock(left)} left] {where}: {what}\n")
        self.stream.flush()


def _as_json(section) -> dict:
    # Tuples become lists, as in a loaded result: a run in memory must compare equal to the same run read back.
    return json.loads(json.dumps(dataclasses.asdict(section)))


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s"


class Runner:
    def __init__(self, config: BenchConfig, out_dir: Path, run_id: str | None = None) -> None:
        self.config = config
        self.run_id = run_id or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        # Absolute: the services run from their own directories and get paths (database, logs) inside this one.
        self.run_dir = Path(out_dir).resolve() / self.run_id
        self.result_path = self.run_dir / "result.json"
        probes_s = 2 * config.plan.steadiness_probe_s  # before and after measuring
        self.progress = Progress(rotation.planned_seconds(config) + centre.planned_seconds(config.plan)
                                + compass.planned_seconds(config) + probes_s)
        self._started_wall = time.time()
        self.run = Run(run_id=self.run_id, metadata=self._metadata(plan_pinning(config), {}))
        self.ctx = RunContext(config, self.run_dir, self.run.metadata.pinning, None, self.progress.say)

    def _metadata(self, pinning: Pinning, request_bodies: dict) -> Metadata:
        commit, dirty = git_commit()
        return Metadata(
            git_commit=commit, git_dirty=dirty, machine=machine(), packages=package_versions(),
            k6_version=k6_version(), pinning=pinning, profile=self.config.profile,
            services=_as_json(self.config.services), plan=_as_json(self.config.plan), slo=_as_json(self.config.slo),
            judgement=_as_json(self.config.judgement),
            request_bodies=request_bodies, started_at=datetime.fromtimestamp(self._started_wall, timezone.utc).isoformat(),
            planned_s=self.progress.planned_s, load_average_at_start=list(os.getloadavg()),
        )

    def save(self, ended: bool = False) -> None:
        meta = self.run.metadata
        if self.ctx.words_sent and "sampled" in meta.request_bodies:
            meta.request_bodies["words_sent"] = corpus.length_stats(self.ctx.words_sent)
        meta.wall_s = time.time() - self._started_wall
        if ended:
            meta.ended_at = datetime.now(timezone.utc).isoformat()
            meta.load_average_at_end = list(os.getloadavg())
        save(self.run, self.result_path)

    def _texts(self) -> Path | None:
        try:
            path, described = corpus.prepare()
        except corpus.CorpusUnavailable as exc:
            self.progress.say("run", f"WARNING: AI requests will carry template text, not real articles: {exc}")
            self.run.metadata.request_bodies = {"source": f"templates: the real-text corpus is unavailable ({exc})"}
            return None
        self.run.metadata.request_bodies = described
        return path

    def _fail(self, where: str, exc: BaseException) -> str:
        self.run.failures.append(Failure(where=where, message=str(exc)))
        self.progress.say(where, f"FAILED: {exc}")
        return str(exc)

    def _steadiness(self, when: str) -> list[CpuSteadiness]:
        seconds = self.config.plan.steadiness_probe_s
        if not seconds:
            return []
        pinning = self.ctx.pinning
        # Every CPU the run uses: the pinned halves, or (unpinned) those this process may run on.
        cpus = set(pinning.service_cpus) | set(pinning.k6_cpus) or os.sched_getaffinity(0)
        readings = steadiness.probe(sorted(cpus), seconds)
        shaky = steadiness.unsteady(readings)
        if shaky:
            self.progress.say("run", f"WARNING: the host's CPUs were unsteady {when}: {steadiness.text(shaky)}")
        return readings

    def _remote_ai_capacity(self, framework: str) -> AICapacity:
        running = self.ctx.start(framework, "remote", guard="on", tag="-compass")
        try:
            return centre.ai_capacity(self.ctx, running, crud_rate=0.0)
        finally:
            running.stop()

    def _crud_rotation(self) -> rotation.Rotation:
        """Every framework's CRUD capacity with AI off, read in turn; the off configs are those services."""
        plan = self.config.plan
        records = {}
        if "off" in plan.modes:
            for framework in plan.frameworks:
                records[framework] = ConfigResult(framework=framework, mode="off")
                self.run.configs.append(records[framework])
        try:
            found = rotation.measure(self.ctx, records)
        except (ServiceFailed, PortTaken, K6Failed, RuntimeError) as exc:
            message = self._fail("CRUD rotation", exc)
            for record in records.values():
                record.failure = message
            return rotation.Rotation()
        for framework, record in records.items():
            record.crud_capacity = found.capacities.get(framework)
        self.save()
        return found

    def execute(self) -> Run:
        ctx = self.ctx
        if ctx.k6_cpus:
            # This process samples the servers; it must not steal cycles from the services' cores.
            os.sched_setaffinity(0, ctx.k6_cpus)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ctx.texts_file = self._texts()
        self.run.metadata.steadiness_at_start = self._steadiness("before measuring")
        self.save()
        plan = self.config.plan
        self.progress.say("run", f"{len(plan.frameworks)} frameworks x {len(plan.modes)} modes, planned about "
                          f"{_clock(self.progress.planned_s)}; pinning: {ctx.pinning.note}; results in {self.run_dir}")
        crud_rotation = self._crud_rotation()
        first_ai_mode = next(filter(centre.has_ai, plan.modes), None)
        for framework in plan.frameworks:
            for mode in filter(centre.has_ai, plan.modes):
                record = ConfigResult(framework=framework, mode=mode)
                self.run.configs.append(record)
                crud = crud_rotation.capacities.get(framework)
                if "off" not in plan.modes and mode == first_ai_mode:
                    record.crud_capacity = crud  # with no AI-off config, the framework's first one holds it
                if crud is None:
                    record.failure = self._fail(f"{framework}/{mode}", RuntimeError("no CRUD capacity measured"))
                    continue
                try:
                    centre.measure_config(ctx, record, crud)
                except (ServiceFailed, PortTaken, K6Failed, centre.DrainTimeout, RuntimeError) as exc:
                    record.failure = self._fail(f"{framework}/{mode}", exc)
                self.save()
        self.run.compass = compass.measure(ctx, self.run.configs, crud_rotation.metrics_overhead,
                                           lambda framework: self._remote_ai_capacity(framework))
        self.run.metadata.steadiness_at_end = self._steadiness("after measuring")
        self.save(ended=True)
        return self.run
