"""INFERENCE_MODE=remote: the four tasks run in the gRPC inference service (services/inference).

Only grpc and the generated messages are imported here, never torch or transformers: a remote-mode API worker
stays as small as an off-mode one. Channels are made lazily in the process (and, for grpc.aio, the event loop)
that uses them, because a gRPC channel does not survive fork; gunicorn forks workers after importing the app.
A channel reconnects by itself when the service comes back, and no state here outlives a failed call.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from blogcore.ai.admission import ThrottledLog, raise_if_gone
from blogcore.ai.backend import (
    AIBackend,
    ClientGoneCheck,
    never_gone,
    AIError,
    AIInvalidInput,
    AIOverloaded,
    AITimeout,
    AIUnavailable,
    ModelInfo,
    Readiness,
    Result,
    Task,
)
from blogcore.ai.wire import (
    MAX_MESSAGE_BYTES,
    METHOD_NAMES,
    SERVICE_NAME,
    decode_results,
    model_info_from_message,
    retry_after_from,
)
from blogcore.grpc_gen import inference_pb2 as pb
from blogcore.grpc_gen import inference_pb2_grpc as pb_grpc
from blogcore.settings import APISettings

log = logging.getLogger(__name__)

# Readiness is asked by every /ready probe; one health check a second per worker is plenty.
READINESS_CACHE_S = 1.0
READINESS_TIMEOUT_S = 0.5
MODEL_INFO_TIMEOUT_S = 1.0

CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # gRPC's default reconnect backoff grows to two minutes; a restarted service should be found within a second.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    # Calls are not idempotent-cheap (a retried summary costs a second model run): the API decides, not gRPC.
    ("grpc.enable_retries", 0),
)

# An outage, a missed deadline or a refusal by the service is logged (throttled); other codes are the caller's error.
_LOGGED_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED)
failures = ThrottledLog(log)





def error_for_status(
    code: grpc.StatusCode | None, details: str | None, trailing: Sequence[tuple[str, Any]] | None = ()
) -> AIError:
    """The API error a failed inference call becomes (status and code of the HTTP answer)."""
    details = (details or "").strip()
    if code == grpc.StatusCode.UNAVAILABLE:
        return AIUnavailable("the inference service is unavailable")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return AIOverloaded("the inference service is overloaded; retry later", retry_after_s=retry_after_from(trailing))
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return AITimeout("the inference service did not answer in time")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return AIInvalidInput(f"the inference service refused the input: {details}" if details else "invalid input")
    return AIError(f"inference failed ({code.name if code else 'unknown'})")


def _error_from_rpc(error: grpc.RpcError) -> AIError:
    if isinstance(error, grpc.Call | grpc.aio.AioRpcError):
        code = error.code()
        if code in _LOGGED_CODES:
            failures.warning(code.name, f"inference call failed: {code.name} ({(error.details() or '').strip()})")
        return error_for_status(code, error.details(), error.trailing_metadata())
    return AIError("inference failed")


@dataclass
class _SyncChannel:
    pid: int
    channel: grpc.Channel
    stub: pb_grpc.InferenceStub
    health: health_pb2_grpc.HealthStub


@dataclass
class _AioChannel:
    pid: int
    loop: asyncio.AbstractEventLoop
    channel: grpc.aio.Channel
    stub: pb_grpc.InferenceStub


class RemoteBackend(AIBackend):
    """Calls the inference service: a blocking stub for run(), a grpc.aio stub for arun()."""

    mode = "remote"

    def __init__(self, settings: APISettings) -> None:
        self.address = settings.inference_addr
        self.timeout_s = settings.inference_timeout_s
        self._lock = threading.Lock()
        self._sync: _SyncChannel | None = None
        self._aio: _AioChannel | None = None
        self._infos: dict[Task, ModelInfo] = {}
        self._readiness: tuple[float, Readiness] | None = None
        self._infos_asked_at = float("-inf")

    def close(self) -> None:
        with self._lock:
            sync, self._sync = self._sync, None
            # An aio channel can only be closed from its own loop, which is gone by now; dropping it is enough.
            self._aio = None
        if sync is not None and sync.pid == os.getpid():
            sync.channel.close()

    def run(self, task: Task, texts: list[str], client_gone: ClientGoneCheck = never_gone) -> list[Result]:
        raise_if_gone(client_gone)
        method = getattr(self._sync_channel().stub, METHOD_NAMES[task])
        try:
            response = method(pb.TextBatch(texts=texts), timeout=self.timeout_s)
        except grpc.RpcError as error:
            raise self._failed(error) from None
        return self._read(task, response, len(texts))

    async def arun(self, task: Task, texts: list[str]) -> list[Result]:
        method = getattr(self._aio_channel().stub, METHOD_NAMES[task])
        try:
            response = await method(pb.TextBatch(texts=texts), timeout=self.timeout_s)
        except grpc.RpcError as error:
            raise self._failed(error) from None
        return self._read(task, response, len(texts))

    def _failed(self, error: grpc.RpcError) -> AIError:
        failure = _error_from_rpc(error)
        if isinstance(failure, AIUnavailable):
            # The service is gone: the next readiness probe asks it again instead of repeating a SERVING cached
            # before the outage
            self._readiness = None
        return failure

    def model_info(self, task: Task) -> ModelInfo | None:
        info = self._infos.get(task)
        if info is None:
            self._fetch_model_infos()
            info = self._infos.get(task)
        return info

    def readiness(self) -> Readiness:
        now = time.monotonic()
        cached = self._readiness
        if cached is not None and now - cached[0] < READINESS_CACHE_S:
            return cached[1]
        status = self._health_status()
        ready = status == "SERVING"
        if ready and len(self._infos) < len(Task):
            self._fetch_model_infos()
        detail: dict[str, Any] = {"inference_mode": self.mode, "inference_addr": self.address, "phase": status.lower()}
        if self._infos:
            detail["models"] = {str(task): info.as_dict() for task, info in self._infos.items()}
        readiness = Readiness(ready, detail)
        self._readiness = (time.monotonic(), readiness)
        return readiness

    def _health_status(self) -> str:
        request = health_pb2.HealthCheckRequest(service=SERVICE_NAME)
        try:
            reply = self._sync_channel().health.Check(request, timeout=min(READINESS_TIMEOUT_S, self.timeout_s))
        except grpc.RpcError as error:
            code = error.code() if isinstance(error, grpc.Call) else None
            return code.name if code is not None else "ERROR"
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    def _fetch_model_infos(self) -> None:
        # model_info() runs on every AI answer and readiness probe: while the service is down, ask once a second.
        now = time.monotonic()
        if now - self._infos_asked_at < READINESS_CACHE_S:
            return
        self._infos_asked_at = now
        try:
            reply = self._sync_channel().stub.GetModelInfo(
                pb.ModelInfoRequest(), timeout=min(MODEL_INFO_TIMEOUT_S, self.timeout_s)
            )
        except grpc.RpcError:
            return  # not ready or down: the next answer or readiness check fills the cache
        for message in reply.models:
            info = model_info_from_message(message)
            self._infos[info.task] = info

    def _read(self, task: Task, response: Any, expected: int) -> list[Result]:
        results, info = decode_results(task, response)
        if len(results) != expected:
            raise AIError(f"the inference service returned {len(results)} results for {expected} texts")
        if info is None:
            return results
        self._infos[task] = info
        return [replace(result, model=info) for result in results]

    def _sync_channel(self) -> _SyncChannel:
        current = self._sync
        pid = os.getpid()
        if current is not None and current.pid == pid:
            return current
        with self._lock:
            current = self._sync
            if current is None or current.pid != pid:
                # A channel inherited through fork is unusable and must not be closed from the child.
                channel = grpc.insecure_channel(self.address, options=CHANNEL_OPTIONS)
                stub, health = pb_grpc.InferenceStub(channel), health_pb2_grpc.HealthStub(channel)
                current = _SyncChannel(pid, channel, stub, health)
                self._sync = current
        return current

    def _aio_channel(self) -> _AioChannel:
        loop = asyncio.get_running_loop()
        current = self._aio
        pid = os.getpid()
        if current is None or current.pid != pid or current.loop is not loop:
            channel = grpc.aio.insecure_channel(self.address, options=CHANNEL_OPTIONS)
            current = _AioChannel(pid, loop, channel, pb_grpc.InferenceStub(channel))
            self._aio = current
        return current
