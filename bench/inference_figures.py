"""Figures for the gRPC inference service, measured in one run on this machine.

    python -m bench.inference_figures [--quick] [--parts a,b,c] [--out results/inference_figures.json]

(a) the gRPC hop: p50 latency of RemoteBackend.run minus InProcessBackend.run, tiny synthetic models, one client,
    calls interleaved so machine noise hits both alike. Measured with BATCH_MAX_DELAY_MS=0 (the hop alone) and
    with the default 5 ms (what a lone request pays for the batching window).
(b) dynamic batching: title throughput with BATCH_MAX_SIZE=8 versus 1 (and 8 with a 25 ms window), eight
    concurrent closed-loop clients, light profile synthetic (distilgpt2-sized), TITLE_MAX_NEW_TOKENS=16; the
    services run side by side and take turns in alternating rounds.
(c) API memory in remote mode versus off mode: USS and PSS of one worker and of the whole gunicorn tree, per
    framework, after the same warm-up traffic.

Prints a Markdown table and writes the JSON. Needs a quiet machine: everything runs on its cores at once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator

import psutil

REPO = Path(__file__).resolve().parents[1]
INFERENCE_DIR = REPO / "services" / "inference"
_LISTENING = re.compile(r"listening grpc=(\S+) metrics=(\S+)")
TEXT = (
    "Tuning PostgreSQL for a small Flask blog: we added two indexes, turned on autovacuum for the busy table "
    "and put a connection pool in front of the database; p95 latency fell from 180 ms to 40 ms."
)
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{what}: process exited")
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready within {timeout_s}s")


def stop_process(process: subprocess.Popen, grace_s: float = 20.0) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@contextmanager
def inference_service(env: dict[str, str], log_path: Path) -> Iterator[tuple[str, str]]:
    """The service on OS-chosen ports with env; yields its gRPC address and metrics URL once it is SERVING."""
    from blogcore.ai.remote import RemoteBackend
    from blogcore.settings import APISettings

    full_env = {**os.environ, **OFFLINE_ENV, "HOST": "127.0.0.1", "GRPC_PORT": "0", "METRICS_PORT": "0", **env}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(INFERENCE_DIR), os.environ.get("PYTHONPATH")]))
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "inference_service"],
            cwd=INFERENCE_DIR,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        found: dict[str, str] = {}

        def listening() -> bool:
            match = _LISTENING.search(log_path.read_text(errors="replace"))
            if match:
                found["address"], found["metrics"] = match.group(1), f"http://{match.group(2)}/metrics"
            return bool(match)

        alive = lambda: process.poll() is None  # noqa: E731
        wait_until(listening, 120, "inference service", alive)
        probe = RemoteBackend(APISettings(inference_mode="remote", inference_addr=found["address"]))
        wait_until(lambda: probe.readiness().ready, 300, "inference service warm-up", alive)
        probe.close()
        yield found["address"], found["metrics"]
    except Exception:
        print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        stop_process(process)


# ---- (a) the gRPC hop ----------------------------------------------------------------------------------------------


def hop(work: Path, iterations: int, threads: int) -> dict[str, Any]:
    from blogcore.ai.backend import Task
    from blogcore.ai.inprocess import InProcessBackend
    from blogcore.ai.remote import RemoteBackend
    from blogcore.settings import APISettings

    model_env = {"MODEL_PROFILE": "tiny", "MODEL_SOURCE": "synthetic", "TORCH_THREADS": str(threads)}
    inprocess = InProcessBackend(
        APISettings(inference_mode="inprocess", model_profile="tiny", model_source="synthetic", torch_threads=threads)
    )
    inprocess.start()
    deadline = time.monotonic() + 120
    while not inprocess.readiness().ready:
        if time.monotonic() > deadline:
            raise TimeoutError("in-process backend did not warm up")
        time.sleep(0.2)

    figures: dict[str, Any] = {"iterations": iterations, "torch_threads": threads, "tasks": {}}
    for delay_ms in ("0", "5"):
        env = {**model_env, "BATCH_MAX_DELAY_MS": delay_ms}
        with inference_service(env, work / f"hop-{delay_ms}ms.log") as (address, _):
            remote = RemoteBackend(APISettings(inference_mode="remote", inference_addr=address, inference_timeout_s=30))
            for task in (Task.SENTIMENT, Task.TAGS, Task.TITLE):
                for backend in (inprocess, remote):  # warm both paths, connection included
                    for _ in range(10):
                        backend.run(task, [TEXT])
                local_ms, remote_ms = [], []
                for _ in range(iterations):
                    for backend, sink in ((inprocess, local_ms), (remote, remote_ms)):
                        started = time.perf_counter()
                        backend.run(task, [TEXT])
                        sink.append((time.perf_counter() - started) * 1000)
                # each pass has its own in-process figure: the hop compares calls made side by side
                entry = figures["tasks"].setdefault(str(task), {})
                entry[f"delay{delay_ms}ms"] = {
                    "inprocess_p50_ms": statistics.median(local_ms),
                    "remote_p50_ms": statistics.median(remote_ms),
                    "hop_p50_ms": statistics.median(remote_ms) - statistics.median(local_ms),
                    "inprocess_p95_ms": percentile(local_ms, 0.95),
                    "remote_p95_ms": percentile(remote_ms, 0.95),
                }
            remote.close()
    inprocess.close()
    return figures


# ---- (b) dynamic batching ------------------------------------------------------------------------------------------


def _drive(backend: Any, task: Any, texts: list[str], duration_s: float) -> tuple[list[float], int, float]:
    """A closed-loop client per text for duration_s; returns latencies, errors and elapsed time, tail included."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + duration_s

    def client(text: str) -> None:
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                backend.run(task, [text])
            except Exception:  # noqa: BLE001 - counted, the figure says how many
                with lock:
                    errors[0] += 1
                continue
            with lock:
                latencies.append(time.perf_counter() - started)

    started = time.monotonic()
    workers = [threading.Thread(target=client, args=(text,)) for text in texts]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(duration_s + 300)
    return latencies, errors[0], time.monotonic() - started


def _batch_totals(metrics_url: str, task: str) -> tuple[float, float]:
    """(texts, batches) the service has computed for task so far, from its batch-size histogram."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    body = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    values = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.labels.get("task") == task and sample.name.startswith("inference_batch_size_"):
                values[sample.name] = sample.value
    return values.get("inference_batch_size_sum", 0.0), values.get("inference_batch_size_count", 0.0)


# (name, BATCH_MAX_SIZE, BATCH_MAX_DELAY_MS): the default window, and a wider one for comparison. With closed-loop
# clients the next burst of calls arrives spread over a few ms; a window shorter than that spread splits batches.
BATCHING_CONFIGS = (("max_batch_1", 1, 5), ("max_batch_8", 8, 5), ("max_batch_8_delay_25ms", 8, 25))


def batching(work: Path, clients: int, duration_s: float, rounds: int) -> dict[str, Any]:
    """The services run at once and take turns under load, so drift in the machine's load hits all alike."""
    from blogcore.ai.backend import Task
    from blogcore.ai.remote import RemoteBackend
    from blogcore.settings import APISettings

    figures: dict[str, Any] = {
        "clients": clients, "duration_s": duration_s, "rounds": rounds, "profile": "light", "configs": {}
    }
    texts = [f"{TEXT} (variant {i})" for i in range(clients)]
    env = {
        "MODEL_PROFILE": "light",
        "MODEL_SOURCE": "synthetic",
        "TITLE_MAX_NEW_TOKENS": "16",
        "BATCH_QUEUE_SIZE": "64",
    }
    with ExitStack() as stack:
        services: dict[str, tuple[Any, str]] = {}
        for name, max_size, delay_ms in BATCHING_CONFIGS:
            config_env = {**env, "BATCH_MAX_SIZE": str(max_size), "BATCH_MAX_DELAY_MS": str(delay_ms)}
            address, metrics_url = stack.enter_context(inference_service(config_env, work / f"{name}.log"))
            backend = RemoteBackend(
                APISettings(inference_mode="remote", inference_addr=address, inference_timeout_s=300)
            )
            stack.callback(backend.close)
            for _ in range(2):
                backend.run(Task.TITLE, [TEXT])
            services[name] = (backend, metrics_url)
        totals = {name: {"latencies": [], "errors": 0, "elapsed": 0.0} for name in services}
        batches_before = {name: _batch_totals(metrics_url, "title") for name, (_, metrics_url) in services.items()}
        for _ in range(rounds):
            for name, (backend, _) in services.items():
                latencies, errors, elapsed = _drive(backend, Task.TITLE, texts, duration_s)
                totals[name]["latencies"] += latencies
                totals[name]["errors"] += errors
                totals[name]["elapsed"] += elapsed
        for (name, max_size, delay_ms), (_, metrics_url) in zip(BATCHING_CONFIGS, services.values(), strict=True):
            latencies = totals[name]["latencies"]
            texts_after, batches_after = _batch_totals(metrics_url, "title")
            texts_before, batches_before_count = batches_before[name]
            batches = batches_after - batches_before_count
            figures["configs"][name] = {
                "batch_max_size": max_size,
                "batch_max_delay_ms": delay_ms,
                "requests": len(latencies),
                "errors": totals[name]["errors"],
                "seconds": totals[name]["elapsed"],
                "throughput_rps": len(latencies) / totals[name]["elapsed"],
                "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
                "p95_ms": percentile(latencies, 0.95) * 1000 if latencies else None,
                "mean_batch_size": (texts_after - texts_before) / batches if batches else None,
            }
    base = figures["configs"]["max_batch_1"]["throughput_rps"]
    figures["speedup"] = {
        name: config["throughput_rps"] / base if base else None
        for name, config in figures["configs"].items()
        if name != "max_batch_1"
    }
    return figures


# ---- (c) API memory ------------------------------------------------------------------------------------------------


def _memory(pid: int) -> tuple[int, int]:
    info = psutil.Process(pid).memory_full_info()
    return info.uss, getattr(info, "pss", info.uss)


@contextmanager
def api_server(framework: str, env: dict[str, str], run_dir: Path, workers: int) -> Iterator[tuple[str, int]]:
    """One framework's start.sh (gunicorn) on a free port with env; yields its base URL and master pid."""
    import httpx

    port = free_port()
    run_dir.mkdir(parents=True, exist_ok=True)
    full_env = {
        **os.environ,
        **OFFLINE_ENV,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_WORKERS": str(workers),
        "WEB_THREADS": "4",
        "DATABASE_PATH": str(run_dir / "blog.sqlite3"),
        "PROMETHEUS_MULTIPROC_DIR": str(run_dir / "metrics"),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
        "LOG_LEVEL": "WARNING",
        "MODEL_PROFILE": "tiny",
        "MODEL_SOURCE": "synthetic",
        **env,
    }
    with open(run_dir / "server.log", "wb") as log:
        process = subprocess.Popen(
            [str(REPO / "services" / f"api-{framework}" / "start.sh")],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(base + "/ready", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 300, f"{framework} ({env.get('INFERENCE_MODE')})", lambda: process.poll() is None)
        yield base, process.pid
    except Exception:
        print((run_dir / "server.log").read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        stop_process(process)


def hop_end_to_end(work: Path, framework: str, iterations: int, threads: int) -> dict[str, Any]:
    """POST /ai/sentiment through one API worker: in-process models versus the service (no batching delay)."""
    import httpx

    figures: dict[str, Any] = {"framework": framework, "task": "sentiment", "iterations": iterations}
    model_env = {"TORCH_THREADS": str(threads), "MODEL_PROFILE": "tiny", "MODEL_SOURCE": "synthetic"}
    with inference_service({**model_env, "BATCH_MAX_DELAY_MS": "0"}, work / "e2e-inference.log") as (address, _):
        remote_env = {**model_env, "INFERENCE_MODE": "remote", "INFERENCE_ADDR": address}
        local_env = {**model_env, "INFERENCE_MODE": "inprocess"}
        with (
            api_server(framework, local_env, work / "e2e-inprocess", workers=1) as (local, _),
            api_server(framework, remote_env, work / "e2e-remote", workers=1) as (remote, _),
            httpx.Client(timeout=30) as client,
        ):
            samples: dict[str, list[float]] = {"inprocess": [], "remote": []}
            for round_ in range(iterations + 10):
                for mode, base in (("inprocess", local), ("remote", remote)):
                    started = time.perf_counter()
                    response = client.post(base + "/ai/sentiment", json={"text": TEXT})
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status_code != 200:
                        raise RuntimeError(f"{mode}: {response.status_code} {response.text[:200]}")
                    if round_ >= 10:  # the first rounds warm connections and caches
                        samples[mode].append(elapsed)
    figures["inprocess_p50_ms"] = statistics.median(samples["inprocess"])
    figures["remote_p50_ms"] = statistics.median(samples["remote"])
    figures["hop_p50_ms"] = figures["remote_p50_ms"] - figures["inprocess_p50_ms"]
    return figures


def api_memory(work: Path, frameworks: list[str], workers: int, inference_address: str) -> dict[str, Any]:
    import httpx

    figures: dict[str, Any] = {"workers": workers, "frameworks": {}}
    for framework in frameworks:
        for mode in ("off", "remote"):
            env = {"INFERENCE_MODE": mode, "INFERENCE_ADDR": inference_address, "INFERENCE_TIMEOUT_S": "30"}
            with api_server(framework, env, work / f"{framework}-{mode}", workers) as (base, master_pid):
                # The same traffic in both modes, spread over every worker: posts, reads, and AI calls
                # (answered by the service in remote mode, refused with 503 when off).
                expected_ai_status = 200 if mode == "remote" else 503
                with httpx.Client(base_url=base, timeout=60) as client:
                    for i in range(20 * workers):
                        created = client.post("/posts", json={"title": f"Post {i}", "body": TEXT}).json()
                        client.get(f"/posts/{created['id']}")
                        client.get("/posts")
                        for task in ("summarize", "sentiment", "title", "tags"):
                            status = client.post(f"/ai/{task}", json={"text": TEXT}).status_code
                            if status != expected_ai_status:
                                raise RuntimeError(f"{framework} {mode}: /ai/{task} answered {status}")
                        client.get("/ready")
                time.sleep(1.0)
                worker_pids = [child.pid for child in psutil.Process(master_pid).children(recursive=True)]
                per_worker = [_memory(pid) for pid in worker_pids]
                tree = [_memory(master_pid), *per_worker]
                figures["frameworks"].setdefault(framework, {})[mode] = {
                    "worker_uss_mb": max(uss for uss, _ in per_worker) / 2**20,
                    "worker_pss_mb": max(pss for _, pss in per_worker) / 2**20,
                    "service_uss_mb": sum(uss for uss, _ in tree) / 2**20,
                    "service_pss_mb": sum(pss for _, pss in tree) / 2**20,
                    "processes": len(tree),
                }
        modes = figures["frameworks"][framework]
        for key in ("worker_uss_mb", "worker_pss_mb", "service_uss_mb", "service_pss_mb"):
            modes.setdefault("ratio", {})[key] = modes["remote"][key] / modes["off"][key]
    return figures


# ---- report --------------------------------------------------------------------------------------------------------


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# Inference service figures ({result['measured_at']}, {result['machine']})", ""]
    if "hop" in result:
        hop_fig = result["hop"]
        lines += [
            f"## (a) gRPC hop: tiny synthetic models, one client, {hop_fig['iterations']} interleaved calls per path",
            "",
            "| task | batch delay | in-process p50 | remote p50 | hop p50 | in-process p95 | remote p95 |",
            "|---|---|---|---|---|---|---|",
        ]
        for task, passes in hop_fig["tasks"].items():
            for delay, e in passes.items():
                lines.append(
                    f"| {task} | {delay.removeprefix('delay')} | {e['inprocess_p50_ms']:.2f} ms | "
                    f"{e['remote_p50_ms']:.2f} ms | **{e['hop_p50_ms']:+.2f} ms** | {e['inprocess_p95_ms']:.2f} ms | "
                    f"{e['remote_p95_ms']:.2f} ms |"
                )
        lines.append("")
    if "hop_e2e" in result:
        e = result["hop_e2e"]
        lines += [
            f"End to end through {e['framework']} (POST /ai/sentiment, one worker, {e['iterations']} interleaved "
            f"requests): in-process p50 {e['inprocess_p50_ms']:.2f} ms, remote p50 {e['remote_p50_ms']:.2f} ms, "
            f"hop **{e['hop_p50_ms']:+.2f} ms**",
            "",
        ]
    if "batching" in result:
        b = result["batching"]
        lines += [
            f"## (b) dynamic batching: title, light synthetic, {b['clients']} clients, {b['rounds']} alternating "
            f"rounds of {b['duration_s']:.0f} s per config",
            "",
            "| max batch size | max delay | requests | errors | throughput | p50 | p95 | mean batch |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in b["configs"].values():
            lines.append(
                f"| {c['batch_max_size']} | {c['batch_max_delay_ms']} ms | {c['requests']} | {c['errors']} | "
                f"{c['throughput_rps']:.2f} req/s | {c['p50_ms']:.0f} ms | {c['p95_ms']:.0f} ms | "
                f"{c['mean_batch_size'] or 0:.2f} |"
            )
        lines.append("")
        for name, speedup in b["speedup"].items():
            lines.append(f"Speed-up of {name} over max batch size 1: **{speedup:.2f}x**  ")
        lines.append("")
    if "memory" in result:
        m = result["memory"]
        lines += [
            f"## (c) API memory, remote vs off ({m['workers']} workers, tiny models in the service)",
            "",
            "| framework | mode | worker USS | worker PSS | service USS | service PSS |",
            "|---|---|---|---|---|---|",
        ]
        for framework, modes in m["frameworks"].items():
            for mode in ("off", "remote"):
                e = modes[mode]
                lines.append(
                    f"| {framework} | {mode} | {e['worker_uss_mb']:.1f} MB | {e['worker_pss_mb']:.1f} MB | "
                    f"{e['service_uss_mb']:.1f} MB | {e['service_pss_mb']:.1f} MB |"
                )
            r = modes["ratio"]
            lines.append(
                f"| {framework} | **remote/off** | **{r['worker_uss_mb']:.2f}x** | {r['worker_pss_mb']:.2f}x | "
                f"**{r['service_uss_mb']:.2f}x** | {r['service_pss_mb']:.2f}x |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="a,b,c", help="comma-separated subset of a,b,c")
    parser.add_argument("--quick", action="store_true", help="fewer iterations and shorter runs (a smoke test)")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "inference_figures.json")
    parser.add_argument("--frameworks", default="flask,fastapi,django")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table here (docs/inference_figures.md)")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)

    result: dict[str, Any] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, python {platform.python_version()}",
        "command": " ".join([Path(sys.executable).name, "-m", "bench.inference_figures", *(argv or sys.argv[1:])]),
    }
    with tempfile.TemporaryDirectory(prefix="inference-figures-") as tmp:
        work = Path(tmp)
        if "a" in parts:
            result["hop"] = hop(work, iterations=60 if args.quick else 300, threads=1)
            result["hop_e2e"] = hop_end_to_end(work, "fastapi", iterations=60 if args.quick else 300, threads=1)
        if "b" in parts:
            quick = args.quick
            result["batching"] = batching(work, clients=8, duration_s=10 if quick else 20, rounds=1 if quick else 4)
        if "c" in parts:
            env = {"MODEL_PROFILE": "tiny", "MODEL_SOURCE": "synthetic", "TORCH_THREADS": "1"}
            with inference_service(env, work / "memory-inference.log") as (address, _):
                result["memory"] = api_memory(work, args.frameworks.split(","), workers=2, inference_address=address)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
