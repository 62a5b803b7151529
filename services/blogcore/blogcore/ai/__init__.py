"""AI backends, picked by INFERENCE_MODE. Heavy modules are imported only by the mode that needs them."""

from __future__ import annotations

import os

# Torch's OpenMP threads otherwise spin after every parallel op, waiting for the next: with two of them on two
# cores, the inference service burnt about 0.8 of a core doing nothing, taken from the API beside it (measured in
# the overload scenario: 1.85 cores at the knee, 1.05 with this, for the same answers). libgomp reads the policy
# once, when torch loads it, so it is set here, before any module of this package imports torch; a value the
# operator gives wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
