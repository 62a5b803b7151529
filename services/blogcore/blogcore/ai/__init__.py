"""AI backends, picked by INFERENCE_MODE. Heavy modules are imported only by the mode that needs them."""

from __future__ import annotations

from blogcore.ai.backend import AIBackend, OffBackend, Task
from blogcore.settings import APISettings, InferenceMode


def create_backend(settings: APISettings) -> AIBackend:
    if settings.inference_mode is InferenceMode.OFF:
        return OffBackend()
    if settings.inference_mode is InferenceMode.INPROCESS:
        from blogcore.ai.inprocess import InProcessBackend  # imports torch

        return InProcessBackend(settings)
    from blogcore.ai.remote import RemoteBackend  # grpc only, never torch

    return RemoteBackend(settings)


__all__ = ["AIBackend", "Task", "create_backend"]
