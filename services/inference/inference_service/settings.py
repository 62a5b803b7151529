"""The inference service's settings, read from the environment without a prefix.

Model fields (MODEL_SOURCE, MODEL_PROFILE, TITLE_MAX_NEW_TOKENS, TORCH_THREADS, ...) are ModelSettings' own, so
the APIs in process mode and this service read the very same variables and load identical models.
"""

from __future__ import annotations


from pydantic import BaseModel, ConfigDict, Field, model_validator

from blogcore.ai.backend import Task
from blogcore.settings import ModelSettings, cores_given, torch_threads_for


class BatchOverride(BaseModel):
    """One task's departures from the default batching parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_size: int | None = Field(None, ge=1, le=256)
    max_delay_ms: float | None = Field(None, ge=0, le=10_000)
    queue_size: int | None = Field(None, ge=1, le=100_000)


class BatchPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_size: int
    max_delay_s: float
    queue_size: int


class InferenceSettings(ModelSettings):
    host: str = "127.0.0.1"
    grpc_port: int = Field(50051, ge=0, le=65535)
    metrics_port: int = Field(9101, ge=0, le=65535)

    # Triton-style dynamic batching, the same for every task unless BATCH_PER_TASK says otherwise.
    batch_max_size: int = Field(8, ge=1, le=256)
    batch_max_delay_ms: float = Field(5.0, ge=0, le=10_000)
    batch_queue_size: int = Field(64, ge=1, le=100_000)
    # JSON, e.g. BATCH_PER_TASK='{"summarize": {"max_size": 4, "max_delay_ms": 10}}'
    batch_per_task: dict[Task, BatchOverride] = Field(default_factory=dict)

    max_texts_per_request: int = Field(64, ge=1, le=10_000)
    max_text_chars: int = Field(100_000, ge=1)
    # SIGTERM lets in-flight calls finish for this long before the server stops.
    shutdown_grace_s: float = Field(10.0, ge=0, le=600)
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _ports_differ(self) -> "InferenceSettings":
        if self.grpc_port and self.grpc_port == self.metrics_port:
            raise ValueError("GRPC_PORT and METRICS_PORT must differ")
        return self

    def batch_policy(self, task: Task) -> BatchPolicy:
        override = self.batch_per_task.get(task, BatchOverride())
        return BatchPolicy(
            max_size=override.max_size or self.batch_max_size,
            max_delay_s=(self.batch_max_delay_ms if override.max_delay_ms is None else override.max_delay_ms) / 1000,
            queue_size=override.queue_size or self.batch_queue_size,
        )

    @property
    def effective_ai_nice(self) -> int:
        """AI_NICE whatever AI_GUARD says. The service stands in for a machine of its own: where it shares cores with
        the APIs (one core in the benchmark), it must not take their CPU in either arm, or the naive arm measures how
        the kernel splits a core between two equal processes instead of what the API does without its guard (a
        FastAPI service kept its reads in one run and lost them in the next that way). AI_GUARD still decides its
        admission: deadline-aware, or only a bounded queue."""
        return self.ai_nice

    @property
    def effective_torch_threads(self) -> int:
        # The service is the only heavy process of its machine or container: it owns every core it is given.
        return self.torch_threads or torch_threads_for(cores_given())

