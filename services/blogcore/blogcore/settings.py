"""Settings read from the environment, validated once at start-up so a bad value stops the service."""

from __future__ import annotations

import functools
import math
import os
from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class InferenceMode(StrEnum):
    OFF = "off"
    INPROCESS = "inprocess"
    REMOTE = "remote"


class ModelSource(StrEnum):
    HUB = "hub"
    SYNTHETIC = "synthetic"
    # hub where the weights can be had (network or local cache), synthetic otherwise, said in every response
    AUTO = "auto"


class AIGuard(StrEnum):
    # on: AI requests are confined to a bulkhead and admitted only when they can finish before their deadline;
    # off: the naive way most apps embed AI (call the model in the handler, let the server's queue absorb bursts)
    ON = "on"
    OFF = "off"


class MetricsSwitch(StrEnum):
    # off: no per-request metrics work at all and /metrics answers 404 (what instrumentation costs is measurable)
    ON = "on"
    OFF = "off"


class ModelProfile(StrEnum):
    FULL = "full"
    LIGHT = "light"
    TINY = "tiny"


class ModelSettings(BaseSettings):
    """Which models run and how they generate: identical for in-process and remote so runs compare."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    model_source: ModelSource = ModelSource.AUTO
    model_profile: ModelProfile = ModelProfile.LIGHT
    # Overrides of the profile's model ids: a hub id or a local directory in Hugging Face format.
    summary_model: str | None = None
    sentiment_model: str | None = None
    title_model: str | None = None
    tagger_path: Path | None = None

    summary_max_new_tokens: int = Field(48, ge=1, le=512)
    title_max_new_tokens: int = Field(16, ge=1, le=128)
    num_beams: int = Field(1, ge=1, le=8)
    synthetic_seed: int = 0
    # 0 means: the cores this process may use divided by the worker count, so workers x threads never exceeds the cores
    torch_threads: int = Field(0, ge=0, le=256)
    # Read by the APIs and the inference service alike, so one variable flips a whole deployment.
    ai_guard: AIGuard = AIGuard.ON
    # With the guard on, the threads that run models lower their CPU priority by this much (Linux nice, per thread):
    # where request handling and model work want the same core, the kernel runs the requests first. 0 = leave it.
    ai_nice: int = Field(10, ge=0, le=19)

    @property
    def effective_ai_nice(self) -> int:
        """The nice increment model threads take: the naive way (guard off) leaves them at the service's priority."""
        return self.ai_nice if self.ai_guard == AIGuard.ON else 0


class APISettings(ModelSettings):
    """Everything one blog API process reads from its environment."""

    inference_mode: InferenceMode = InferenceMode.INPROCESS
    inference_addr: str = "127.0.0.1:50051"
    inference_timeout_s: float = Field(30.0, gt=0, le=600)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    web_workers: int = Field(2, ge=1, le=64)
    web_threads: int = Field(4, ge=1, le=64)
    preload_models: bool = False

    database_path: Path = Path("data/blog.sqlite3")
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_text_chars: int = Field(100_000, ge=1)

    # In-process inference runs this many model calls per worker at once.
    ai_max_concurrency: int = Field(1, ge=1, le=64)
    # With the guard on, in-process model calls of all the workers together run on at most this many slots, so
    # model threads never outnumber the cores (blogcore.ai.compute_gate says what that saves); 0 means the cores
    # this service may use divided by the torch threads of one call.
    ai_compute_slots: int = Field(0, ge=0, le=256)
    # With the guard on, at most this many AI requests (running or waiting, in any mode) per worker; 0 means half
    # of the worker's threads, so the other half always stays free for the rest of the API.
    ai_bulkhead: int = Field(0, ge=0, le=1024)

    log_level: str = "INFO"
    # One access-log line per request (ACCESS_LOG=on|off), written by gunicorn for all three frameworks.
    access_log: bool = True
    # Prometheus instrumentation of requests and AI tasks (METRICS=on|off)
    metrics: MetricsSwitch = MetricsSwitch.ON

    @field_validator("inference_addr")
    @classmethod
    def _addr_has_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError("INFERENCE_ADDR must be host:port")
        return value

    @model_validator(mode="after")
    def _max_text_fits_body(self) -> "APISettings":
        if self.max_text_chars > self.max_body_bytes:
            raise ValueError("MAX_TEXT_CHARS cannot exceed MAX_BODY_BYTES")
        return self

    @model_validator(mode="after")
    def _bulkhead_leaves_threads(self) -> "APISettings":
        if self.ai_bulkhead >= self.web_threads and self.web_threads > 1:
            raise ValueError("AI_BULKHEAD must be smaller than WEB_THREADS, or nothing is left for the other routes")
        return self

    @property
    def ai_bulkhead_size(self) -> int:
        """AI requests one worker holds at once with the guard on; the same number whatever the framework."""
        return self.ai_bulkhead or max(1, self.web_threads // 2)

    @property
    def effective_torch_threads(self) -> int:
        return self.torch_threads or torch_threads_for(cores_given(), self.web_workers)

    @property
    def compute_slots(self) -> int:
        """In-process model calls the workers may run at once between them."""
        return self.ai_compute_slots or max(1, cores_given() // self.effective_torch_threads)


@functools.cache
def process_settings() -> APISettings:
    """This API process's settings, read from its environment once and shared by the gunicorn config and the app
    (gunicorn's workers inherit them at fork). Apps built with explicit settings, as tests do, never ask."""
    return APISettings()


def torch_threads_for(cores: int, processes: int = 1) -> int:
    """Torch threads per process when TORCH_THREADS is 0: processes x threads never exceeds the cores."""
    return max(1, cores // processes)


def cores_given() -> int:
    """Cores this process may use: its CPU affinity (taskset), capped by a cgroup v2 quota (docker's --cpus)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)

