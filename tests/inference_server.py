"""Start the gRPC inference service as a subprocess on free ports, for tests and benchmarks; stop it by pid."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[1]
SERVICE_DIR = REPO / "services" / "inference"
_LISTENING = re.compile(r"listening grpc=(\S+) metrics=(\S+)")

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
    process: subprocess.Popen[bytes]
    address: str
    metrics_url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def health(self, service: str = "", timeout: float = 1.0) -> str:
        with grpc.insecure_channel(self.address) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=timeout
                )
            except grpc.RpcError as error:
                return error.code().name
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    def wait_serving(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"inference service exited with {self.process.returncode}:\n{self.log()}")
            if self.health() == "SERVING":
                return
            time.sleep(0.1)
        raise TimeoutError(f"inference service not SERVING after {timeout}s:\n{self.log()}")

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then SIGKILL if it has not exited within timeout; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def start_inference(
    log_path: Path, env: dict[str, str] | None = None, *, wait: bool = True, timeout: float = 90.0
) -> InferenceProcess:
    """Start the service with tiny synthetic models (env overrides them) on ports the OS picks."""
    full_env = {**os.environ, **TINY_ENV, "HOST": "127.0.0.1", "GRPC_PORT": "0", "METRICS_PORT": "0", **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SERVICE_DIR), os.environ.get("PYTHONPATH")]))
    log_file = open(log_path, "wb")  # noqa: SIM115 - the child writes to it for its whole life
    process = subprocess.Popen(
        [sys.executable, "-m", "inference_service"],
        cwd=SERVICE_DIR,
        env=full_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    log_file.close()
    try:
        address, metrics = _wait_for_ports(process, log_path, timeout)
        running = InferenceProcess(process, address, f"http://{metrics}/metrics", log_path)
        if wait:
            running.wait_serving(timeout)
        return running
    except BaseException:
        process.kill()
        process.wait(5)
        raise


def _wait_for_ports(process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = _LISTENING.search(log_path.read_text(errors="replace"))
        if match:
            return match.group(1), match.group(2)
        if process.poll() is not None:
            raise RuntimeError(f"inference service exited with {process.returncode}:\n{log_path.read_text()}")
        time.sleep(0.05)
    raise TimeoutError(f"inference service did not report its ports within {timeout}s")
