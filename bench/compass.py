"""The compass experiments: short measurements of the figures this project tracks over time (bench.model.Compass).

- inference_own_rps: the inference service alone, on the service CPUs with the run's models, driven by closed-loop
  gRPC clients in this process over the plan's AI tasks in turn. An API in remote mode can deliver at most this;
  remote_efficiency divides the API's AI capacity by it.
- grpc_hop: what the remote call adds to one AI call (RemoteBackend.run minus InProcessBackend.run, tiny models,
  one torch thread each, no batching window), as the median of paired differences: each pair is one task and text
  sent both ways back to back, in alternating order, so machine noise and the task's own cost cancel.
- metrics_overhead: CRUD capacity with METRICS=off over METRICS=on, per framework (AI off), measured in the CRUD
  rotation (bench/rotation.py), where the two services are read in adjacent slots.
- memory_remote_vs_off: from the configs' idle readings, no measurement of its own.

Every figure is an Interval with its n (bench/intervals.py).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import intervals
from bench.config import BenchConfig
from bench.context import RunContext
from bench.intervals import Interval
from bench.model import AICapacity, Compass, ConfigResult
from bench.services import SEED_POST_BODY, RunningInference, start_inference
from blogcore.ai.backend import AIBackend, AIError, Task
from blogcore.settings import APISettings, InferenceMode, ModelProfile, ModelSource

# The hop is measured where the model's own time is smallest, so the difference is mostly the hop
HOP_MODELS = {"model_profile": ModelProfile.TINY, "model_source": ModelSource.SYNTHETIC}
# One torch thread on both sides, and no batching window: a lone call's hop, not the wait for company
HOP_INFERENCE_ENV = {"TORCH_THREADS": "1", "BATCH_MAX_DELAY_MS": "0"}
HOP_WARMUP_CALLS_PER_TASK = 5
# A failed call is retried after its Retry-After (else this pause, and never longer than the cap), so a refusing
# service is not hammered by a spinning client
REFUSED_PAUSE_S = 0.05
MAX_RETRY_PAUSE_S = 1.0


class CompassFailed(RuntimeError):
    """An experiment could not measure its figure; the message says why."""


@dataclass(frozen=True)
class Throughput:
    """Answers that ended inside one measuring window (closed-loop clients), and the calls that failed there."""

    answers: int
    window_s: float
    clients: int
    failures: dict[str, int]

    @property
    def rps(self) -> Interval:
        return intervals.per_second(self.answers, self.window_s)


def request_texts(texts_file: Path | None) -> list[str]:
    """The texts the API's AI requests carry: the real-article sample, else the seeded posts' text."""
    if texts_file is None:
        return [SEED_POST_BODY]
    return [entry["text"] for entry in json.loads(texts_file.read_text(encoding="utf-8"))["texts"]]


def _tasks(ctx: RunContext) -> list[Task]:
    return [Task(name) for name in ctx.config.plan.ai_tasks]


def _remote(address: str, timeout_s: float) -> AIBackend:
    from blogcore.ai.remote import RemoteBackend

    return RemoteBackend(APISettings(inference_mode=InferenceMode.REMOTE, inference_addr=address,
                                     inference_timeout_s=timeout_s))


def closed_loop(call: Callable[[Task, str], object], tasks: Sequence[Task], texts: Sequence[str], clients: int,
                warmup_s: float, window_s: float, cutoff_s: float) -> Throughput:
    """clients threads call back to back, taking the next (task, text) in turn (a failed one again, after a pause);
    counts what ends inside the window.

    Calls still running at the window's end are not counted (their share of work is the same at both ends of the
    window, as in any closed-loop throughput); the clients get cutoff_s to finish them before being left behind."""
    turn = itertools.count()
    lock = threading.Lock()
    answered = [0]
    failures: Counter[str] = Counter()
    window_start = time.monotonic() + warmup_s
    window_end = window_start + window_s

    def client() -> None:
        index = next(turn)
        while time.monotonic() < window_end:
            failure = None
            try:
                call(tasks[index % len(tasks)], texts[index % len(texts)])
            except AIError as exc:
                failure = exc
            ended = time.monotonic()
            if window_start <= ended <= window_end:
                with lock:
                    if failure:
                        failures[type(failure).__name__] += 1
                    else:
                        answered[0] += 1
            if failure:
                # The same work again once the service says it may take it: skipping a refused (long) task would
                # tilt the answered mix towards the cheap ones
                time.sleep(min(failure.retry_after_s or REFUSED_PAUSE_S, MAX_RETRY_PAUSE_S))
            else:
                index = next(turn)

    threads = [threading.Thread(target=client, name=f"compass-client-{i}", daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, window_end - time.monotonic()) + cutoff_s)
    with lock:
        return Throughput(answered[0], window_s, clients, dict(failures))


def inference_own_rps(ctx: RunContext, clients: int, window_s: float) -> Throughput:
    """The inference service's own batched throughput over the plan's AI tasks in turn (answers per second)."""
    svc = ctx.config.services
    ctx.say("compass", f"inference service alone: {clients} gRPC clients for {window_s:g} s")
    serving = start_inference(svc, ctx.run_dir / "services" / "compass-inference", ctx.service_cpus,
                              "compass-inference")
    backend = _remote(serving.address, svc.inference_timeout_s)
    try:
        measured = closed_loop(lambda task, text: backend.run(task, [text]), _tasks(ctx), request_texts(ctx.texts_file),
                               clients, ctx.config.compass.warmup_s, window_s, svc.inference_timeout_s)
    finally:
        backend.close()
        serving.child.stop()
    if measured.answers == 0:
        raise CompassFailed(f"the inference service answered nothing in {window_s:g} s (failures: {measured.failures})")
    ctx.say("compass", f"inference service alone: {measured.rps.text(2, ' answers/s')}")
    return measured


def remote_efficiency(api_rps: Interval, own: Throughput) -> Interval | None:
    """An API's AI capacity in remote mode over the service's own throughput, as an exact rate ratio.

    api_rps must come from intervals.per_second (as AICapacity.rps does): its count is n and its window n / rate."""
    if not api_rps.estimate or api_rps.method != "Poisson":
        return None
    return intervals.rate_ratio(api_rps.n, api_rps.n / api_rps.estimate, own.answers, own.window_s)


def hop_interval(remote_ms: Sequence[float], local_ms: Sequence[float]) -> Interval:
    """The median of the paired differences remote - local, with its order-statistic 95 % interval (n = pairs)."""
    if len(remote_ms) != len(local_ms):
        raise ValueError(f"{len(remote_ms)} remote calls paired with {len(local_ms)} local ones")
    return intervals.quantile(np.subtract(remote_ms, local_ms), 0.5)


def _timed_ms(backend: AIBackend, task: Task, text: str) -> float:
    started = time.perf_counter()
    backend.run(task, [text])
    return (time.perf_counter() - started) * 1000


def paired_calls(first: AIBackend, second: AIBackend, tasks: Sequence[Task], texts: Sequence[str],
                 calls: int) -> tuple[list[float], list[float]]:
    """calls pairs of the same task and text on both backends, the order alternating; milliseconds of each."""
    for task in tasks:  # connections, caches and lazy initialisation, on both paths
        for _ in range(HOP_WARMUP_CALLS_PER_TASK):
            _timed_ms(first, task, texts[0])
            _timed_ms(second, task, texts[0])
    first_ms, second_ms = [], []
    for index in range(calls):
        task, text = tasks[index % len(tasks)], texts[index % len(texts)]
        if index % 2:
            second_ms.append(_timed_ms(second, task, text))
            first_ms.append(_timed_ms(first, task, text))
        else:
            first_ms.append(_timed_ms(first, task, text))
            second_ms.append(_timed_ms(second, task, text))
    return first_ms, second_ms


def grpc_hop(ctx: RunContext, calls: int) -> Interval:
    """p50 of RemoteBackend.run minus InProcessBackend.run over paired calls, tiny models (ms, n = calls)."""
    from blogcore.ai.inprocess import InProcessBackend

    svc = dataclasses.replace(ctx.config.services, **HOP_MODELS)
    ctx.say("compass", f"gRPC hop: {calls} paired calls, tiny models")
    local = InProcessBackend(APISettings(
        inference_mode=InferenceMode.INPROCESS, torch_threads=1, summary_max_new_tokens=svc.summary_max_new_tokens,
        title_max_new_tokens=svc.title_max_new_tokens, num_beams=svc.num_beams, **HOP_MODELS,
    ))
    local.start()
    serving: RunningInference | None = None
    remote: AIBackend | None = None
    try:
        serving = start_inference(svc, ctx.run_dir / "services" / "compass-hop", ctx.service_cpus, "compass-hop",
                                  HOP_INFERENCE_ENV)
        if not local.wait_until_ready(svc.startup_timeout_s):
            raise CompassFailed(f"the in-process models were not ready in {svc.startup_timeout_s:g} s: "
                                f"{local.readiness().detail}")
        remote = _remote(serving.address, svc.inference_timeout_s)
        remote_ms, local_ms = paired_calls(remote, local, _tasks(ctx), request_texts(ctx.texts_file), calls)
    finally:
        if remote is not None:
            remote.close()
        local.close()
        if serving is not None:
            serving.child.stop()
    hop = hop_interval(remote_ms, local_ms)
    ctx.say("compass", f"gRPC hop p50: {hop.text(2, ' ms')}")
    return hop


def memory_remote_vs_off(configs: Sequence[ConfigResult]) -> dict[str, float]:
    """Per framework, the API tree's idle PSS in remote mode over off mode (both measured, else left out)."""
    ratios = {}
    for remote in configs:
        off = next((c for c in configs if c.framework == remote.framework and c.mode == InferenceMode.OFF), None)
        if remote.mode != InferenceMode.REMOTE or off is None:
            continue
        remote_api, off_api = remote.idle_memory.get("api"), off.idle_memory.get("api")
        if remote_api and off_api and off_api.pss_mib > 0:
            ratios[remote.framework] = remote_api.pss_mib / off_api.pss_mib
    return ratios


def _best_remote_capacity(configs: Sequence[ConfigResult]) -> tuple[str, Interval] | None:
    measured = [(c.framework, c.ai_capacity.rps) for c in configs
                if c.mode == InferenceMode.REMOTE and c.ai_capacity and c.ai_capacity.rps.estimate]
    return max(measured, key=lambda pair: pair[1].estimate, default=None)


def planned_seconds(config: BenchConfig, startup_s: float = 8.0, call_ms: float = 100.0) -> float:
    """A rough schedule for the ETA: one remote API capacity, the service alone, the paired calls."""
    settings, plan = config.compass, config.plan
    if not settings.enabled:
        return 0.0
    api_remote = 2 * startup_s + plan.warmup_s + plan.capacity_max_windows * plan.capacity_window_s + 1.5
    own = startup_s + settings.warmup_s + settings.window_s
    hop = startup_s + 2 * settings.hop_calls * call_ms / 1000
    return api_remote + own + hop


def measure(ctx: RunContext, configs: Sequence[ConfigResult], metrics_overhead: dict[str, Interval],
            api_ai_capacity: Callable[[str], AICapacity]) -> Compass | None:
    """Every compass figure of the run (None when [compass] is off); an experiment that fails leaves its figure
    empty and says why in notes. metrics_overhead comes from the CRUD rotation (bench/rotation.py).
    api_ai_capacity(framework) measures that API's AI capacity in remote mode with no reads beside it, as the
    inference service alone is measured."""
    settings = ctx.config.compass
    if not settings.enabled:
        return None
    compass = Compass(memory_remote_vs_off=memory_remote_vs_off(configs), metrics_overhead=dict(metrics_overhead))
    best = _best_remote_capacity(configs)
    if best:
        framework = best[0]
        try:
            compass.api_remote_rps = api_ai_capacity(framework).rps
            compass.notes.append(f"api_remote_rps: {framework} in remote mode (the highest AI capacity of the "
                                 "frameworks in the run), measured again with no reads beside it")
        except Exception as exc:  # noqa: BLE001 - one figure missing must not cost the run its others
            compass.notes.append(f"api_remote_rps not measured: {type(exc).__name__}: {exc}")
    try:
        own = inference_own_rps(ctx, settings.clients, settings.window_s)
        compass.inference_own_rps = own.rps
        if own.failures:
            compass.notes.append(f"inference service alone: failed calls {own.failures}")
        if compass.api_remote_rps:
            compass.remote_efficiency = remote_efficiency(compass.api_remote_rps, own)
    except Exception as exc:  # noqa: BLE001 - one figure missing must not cost the run its others
        compass.notes.append(f"inference_own_rps not measured: {type(exc).__name__}: {exc}")
    try:
        compass.grpc_hop_p50_ms = grpc_hop(ctx, settings.hop_calls)
    except Exception as exc:  # noqa: BLE001
        compass.notes.append(f"grpc_hop not measured: {type(exc).__name__}: {exc}")
    return compass
