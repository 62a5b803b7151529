"""Starting the services of one benchmark config natively: an API (and, in remote mode, the inference service)."""

from __future__ import annotations

import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import catalog
from bench.config import ServicesConfig
from bench.processes import Child, ServiceFailed, ensure_port_free, grpc_serving, http_ok, wait_until
from blogcore.settings import torch_threads_for

REPO = Path(__file__).resolve().parent.parent
# What every seeded post says: the text the AI requests carry when no real-article sample is given
SEED_POST_BODY = " ".join(["A post about web frameworks, inference and latency under load."] * 8)
SERVICE_DIRS = {name: found.directory for name, found in catalog.services().items()}


def base_env() -> dict[str, str]:
    """A clean environment: the runner's venv first on PATH, offline hub, nothing inherited by accident."""
    venv_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
        "TRANSFORMERS_OFFLINE": os.environ.get("TRANSFORMERS_OFFLINE", "1"),
        "TOKENIZERS_PARALLELISM": "false",
    }
    if os.environ.get("HF_HOME"):
        env["HF_HOME"] = os.environ["HF_HOME"]
    return env


def model_env(svc: ServicesConfig, torch_threads: int) -> dict[str, str]:
    """Model and generation settings: identical for the APIs in process and the inference service."""
    return {
        "MODEL_SOURCE": svc.model_source,
        "MODEL_PROFILE": svc.model_profile,
        "SUMMARY_MAX_NEW_TOKENS": str(svc.summary_max_new_tokens),
        "TITLE_MAX_NEW_TOKENS": str(svc.title_max_new_tokens),
        "NUM_BEAMS": str(svc.num_beams),
        "TORCH_THREADS": str(torch_threads),
        # The APIs and the inference service guard AI alike (or not at all)
        "AI_GUARD": svc.ai_guard,
    }


@dataclass
class RunningConfig:
    framework: str
    mode: str
    base_url: str
    api: Child
    inference: Child | None = None
    ports: dict[str, int] = field(default_factory=dict)
    startup_s: float = 0.0

    def roots(self) -> dict[str, int]:
        roots = {"api": self.api.pid}
        if self.inference:
            roots["inference"] = self.inference.pid
        return roots

    def children(self) -> list[Child]:
        return [c for c in (self.api, self.inference) if c]

    def stop(self) -> None:
        # The API first, so it never sees its inference service vanish mid-request.
        for child in self.children():
            child.stop()


@dataclass
class RunningInference:
    child: Child
    grpc_port: int
    metrics_port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


def start_inference(svc: ServicesConfig, cfg_dir: Path, cpus: tuple[int, ...] | None, name: str,
                    extra_env: dict[str, str] | None = None) -> RunningInference:
    """Start the inference service with the run's model settings on these CPUs and wait until it is SERVING."""
    core_count = len(cpus) if cpus else (os.cpu_count() or 1)
    grpc_port = ensure_port_free(svc.inference_port, "the inference service (gRPC)")
    metrics_port = ensure_port_free(svc.inference_metrics_port, "the inference service (metrics)")
    env = {
        **base_env(),
        **model_env(svc, torch_threads=torch_threads_for(core_count)),
        "HOST": "127.0.0.1",
        "GRPC_PORT": str(grpc_port),
        "METRICS_PORT": str(metrics_port),
        **svc.inference_env,
        **(extra_env or {}),
    }
    child = Child(f"inference ({name})", ["bash", str(catalog.service(catalog.INFERENCE).start_script)], env,
                  cfg_dir / "inference.log", cpus=cpus)
    running = RunningInference(child, grpc_port, metrics_port)
    try:
        wait_until(lambda: grpc_serving(running.address), svc.startup_timeout_s, interval_s=0.5, watch=[child])
    except BaseException:
        child.stop()
        raise
    return running


def start_config(framework: str, mode: str, svc: ServicesConfig, run_dir: Path, cpus: tuple[int, ...] | None,
                 inference_extra_env: dict[str, str] | None = None, tag: str = "") -> RunningConfig:
    """Start one config's services on a fresh database and wait until the API answers /ready 200."""
    name = f"{framework}-{mode}{tag}"
    cfg_dir = run_dir / "services" / name
    cfg_dir.mkdir(parents=True, exist_ok=True)
    core_count = len(cpus) if cpus else (os.cpu_count() or 1)
    started = time.monotonic()
    inference = None
    ports: dict[str, int] = {}
    env = base_env()
    try:
        if catalog.needs_inference(mode):
            serving = start_inference(svc, cfg_dir, cpus, name, inference_extra_env)
            inference = serving.child
            ports.update(inference_grpc=serving.grpc_port, inference_metrics=serving.metrics_port)

        ports["api"] = ensure_port_free(svc.api_port, f"the {framework} API")
        multiproc = cfg_dir / "prometheus-multiproc"
        multiproc.mkdir(exist_ok=True)
        # In process, every worker holds its own models: the service cores are split between the workers, as
        # the API itself would split them (TORCH_THREADS=0); said explicitly so the run records the number.
        torch_threads = torch_threads_for(core_count, svc.web_workers)
        api_env = {
            **env,
            **model_env(svc, torch_threads=torch_threads),
            "HOST": "127.0.0.1",
            "PORT": str(ports["api"]),
            "WEB_WORKERS": str(svc.web_workers),
            "WEB_THREADS": str(svc.web_threads),
            "INFERENCE_MODE": mode,
            "INFERENCE_ADDR": f"127.0.0.1:{ports.get('inference_grpc', 50051)}",
            "INFERENCE_TIMEOUT_S": f"{svc.inference_timeout_s:g}",
            "AI_MAX_CONCURRENCY": str(svc.ai_max_concurrency),
            "AI_BULKHEAD": str(svc.ai_bulkhead),
            "DATABASE_PATH": str(cfg_dir / "blog.sqlite3"),
            "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
            # A fresh random key per run: Django refuses to start without one and none is ever committed.
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            **svc.api_env,
        }
        start_sh = catalog.service(framework).start_script
        if not start_sh.exists():
            raise ServiceFailed(f"{start_sh} does not exist: the {framework} service is not in this checkout")
        api = Child(f"{framework} API ({name})", ["bash", str(start_sh)], api_env, cfg_dir / "api.log", cpus=cpus)
        base_url = f"http://127.0.0.1:{ports['api']}"
        running = RunningConfig(framework, mode, base_url, api, inference, ports)
        watch = [api] + ([inference] if inference else [])
        try:
            wait_until(lambda: http_ok(f"{base_url}/ready"), svc.startup_timeout_s, interval_s=0.5, watch=watch)
        except BaseException:
            running.stop()
            raise
        running.startup_s = time.monotonic() - started
        return running
    except BaseException:
        if inference:
            inference.stop()
        raise


def seed_posts(base_url: str, count: int) -> list[int]:
    """Create the posts every window reads and runs AI on (outside any measured window)."""
    ids = []
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        for i in range(count):
            body = {
                "title": f"Seed post {i}",
                "body": SEED_POST_BODY,
                "tags": ["bench", "seed"],
            }
            resp = client.post("/posts", json=body)
            if resp.status_code != 201:
                raise ServiceFailed(f"seeding failed: POST /posts answered {resp.status_code}: {resp.text[:300]}")
            ids.append(int(resp.json()["id"]))
    return ids
