"""Start the gRPC inference service as a subprocess on free ports, for tests; stop it. The process mechanics are
bench/processes.py's, the benchmark's."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.processes import Child, grpc_health, grpc_serving

REPO = Path(__file__).resolve().parents[1]
SERVICE_DIR = REPO / "services" / "inference"
_LISTENING = re.compile(r"listening grpc=(\S+) metrics=(\S+)")
STOP_TIMEOUT_S = 20.0

# Tiny synthetic models on one torch thread: seconds to start, and gentle with a machine other jobs share.
TINY_ENV = {
    "MODEL_PROFILE": "tiny",
    "MODEL_SOURCE": "synthetic",
    "TORCH_THREADS": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


@dataclass
class InferenceProcess:
    child: Child
    address: str
    metrics_url: str

    def log(self) -> str:
        return self.child.log()

    def health(self, service: str = "", timeout: float = 1.0) -> str:
        return grpc_health(self.address, service, timeout)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited in time; returns the exit code."""
        return self.child.stop(STOP_TIMEOUT_S)


def start_inference(log_path: Path, env: dict[str, str] | None = None, *, timeout: float = 90.0) -> InferenceProcess:
    """Start the service with tiny synthetic models (env overrides them) on ports the OS picks; wait until SERVING."""
    full_env = {**os.environ, **TINY_ENV, "HOST": "127.0.0.1", "GRPC_PORT": "0", "METRICS_PORT": "0", **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SERVICE_DIR), os.environ.get("PYTHONPATH")]))
    child = Child("inference service", [sys.executable, "-m", "inference_service"], full_env, log_path,
                  cwd=SERVICE_DIR)
    # The service logs the ports it bound (0 lets the OS pick them) before it loads its models.
    child.wait_ready(lambda: _LISTENING.search(child.log()) is not None, timeout, interval_s=0.05)
    address, metrics = _LISTENING.search(child.log()).groups()
    child.wait_ready(lambda: grpc_serving(address, timeout_s=1.0), timeout, interval_s=0.1)
    return InferenceProcess(child, address, f"http://{metrics}/metrics")
