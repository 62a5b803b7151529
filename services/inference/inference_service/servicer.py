"""The Inference gRPC service: validates calls, hands their texts to the task's batcher, maps outcomes to codes."""

from __future__ import annotations

import asyncio
import math
import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

import grpc

from blogcore.ai.backend import ModelInfo, Task
from blogcore.ai.wire import RETRY_AFTER_METADATA_KEY, encode_results, model_info_to_message
from blogcore.grpc_gen import inference_pb2 as pb
from blogcore.grpc_gen import inference_pb2_grpc as pb_grpc
from inference_service.batcher import BatcherClosed, BatchFailed, DeadlineExpired, DynamicBatcher, QueueFull
from inference_service.metrics import InferenceMetrics

log = logging.getLogger(__name__)



class ModelHost(Protocol):
    """What the servicer needs of blogcore.ai.engine.ModelEngine."""

    def info(self, task: Task) -> ModelInfo: ...


class _Refusal(Exception):
    def __init__(self, code: grpc.StatusCode, details: str, trailing: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.trailing = tuple(trailing)


class InferenceServicer(pb_grpc.InferenceServicer):
    """Answers the four task RPCs through their batchers once the service is ready, UNAVAILABLE before."""

    def __init__(
        self,
        models: ModelHost,
        batchers: dict[Task, DynamicBatcher],
        metrics: InferenceMetrics,
        *,
        max_texts_per_request: int,
        max_text_chars: int,
        deadline_admission: bool = True,
    ) -> None:
        self._models = models
        self._batchers = batchers
        self._metrics = metrics
        self._max_texts = max_texts_per_request
        self._max_chars = max_text_chars
        self._deadline_admission = deadline_admission
        self._model_messages: dict[Task, pb.ModelInfo] = {}
        self.ready = False
        self.stopping = False

    def mark_ready(self) -> None:
        self._model_messages = {task: model_info_to_message(self._models.info(task)) for task in Task}
        self.ready = True

    async def Summarize(self, request: pb.TextBatch, context: grpc.aio.ServicerContext) -> pb.SummarizeResponse:
        """Summarise each text."""
        return await self._answer(Task.SUMMARIZE, request, context)

    async def Sentiment(self, request: pb.TextBatch, context: grpc.aio.ServicerContext) -> pb.SentimentResponse:
        """Rate each text 1 to 5 stars."""
        return await self._answer(Task.SENTIMENT, request, context)

    async def Title(self, request: pb.TextBatch, context: grpc.aio.ServicerContext) -> pb.TitleResponse:
        """Suggest a title for each text."""
        return await self._answer(Task.TITLE, request, context)

    async def Tags(self, request: pb.TextBatch, context: grpc.aio.ServicerContext) -> pb.TagsResponse:
        """Predict tags for each text."""
        return await self._answer(Task.TAGS, request, context)

    async def GetModelInfo(
        self, request: pb.ModelInfoRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelInfoResponse:
        """Say which model answers each task (or the one asked for)."""
        if not self.ready:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "models are still loading")
        if not request.task:
            return pb.ModelInfoResponse(models=list(self._model_messages.values()))
        try:
            task = Task(request.task)
        except ValueError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown task {request.task!r}")
        return pb.ModelInfoResponse(models=[self._model_messages[task]])

    async def _answer(self, task: Task, request: pb.TextBatch, context: grpc.aio.ServicerContext) -> Any:
        started = time.monotonic()
        self._metrics.texts.labels(task.value).inc(len(request.texts))
        batcher = self._batchers[task]
        outcome = grpc.StatusCode.UNKNOWN
        try:
            try:
                texts = self._admit(request.texts, batcher.queue_size)
                if self._deadline_admission:
                    self._admit_in_time(task, len(texts), context.time_remaining())
                results = await batcher.submit(texts, _deadline(context))
            except asyncio.CancelledError:
                remaining = context.time_remaining()
                expired = remaining is not None and remaining <= 0
                outcome = grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
                raise
            except Exception as exc:  # noqa: BLE001 - every failure becomes a status, none escapes as a crash
                refusal = _refusal_for(task, exc, batcher)
                outcome = refusal.code
                await context.abort(refusal.code, refusal.details, trailing_metadata=refusal.trailing)
            outcome = grpc.StatusCode.OK
            return encode_results(task, results, self._model_messages[task])
        finally:
            self._metrics.requests.labels(task.value, outcome.name).inc()
            self._metrics.request_seconds.labels(task.value).observe(time.monotonic() - started)

    def _admit_in_time(self, task: Task, texts: int, remaining_s: float | None) -> None:
        """Refuse now a call that the queued work would keep from finishing before its deadline."""
        if remaining_s is None:
            return
        # The batchers share one model thread, so every task's queue is ahead of this call.
        ahead = sum(batcher.drain_estimate_s() for batcher in self._batchers.values())
        expected = ahead + self._batchers[task].compute_estimate_s(texts)
        if expected > remaining_s:
            raise _Refusal(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{task.value} would finish in about {expected:.1f} s, after its deadline ({remaining_s:.1f} s left)",
                [(RETRY_AFTER_METADATA_KEY, str(max(1, math.ceil(ahead))))],
            )

    def _admit(self, texts: Sequence[str], queue_size: int) -> list[str]:
        if self.stopping:
            raise _Refusal(grpc.StatusCode.UNAVAILABLE, "the service is shutting down")
        if not self.ready:
            raise _Refusal(grpc.StatusCode.UNAVAILABLE, "models are still loading")
        if not texts:
            raise _Refusal(grpc.StatusCode.INVALID_ARGUMENT, "texts must hold at least one text")
        # A call larger than the whole queue could never be admitted: that is the caller's error, not overload.
        limit = min(self._max_texts, queue_size)
        if len(texts) > limit:
            raise _Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"at most {limit} texts per call")
        for index, text in enumerate(texts):
            if not text.strip():
                raise _Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"texts[{index}] is empty")
            if len(text) > self._max_chars:
                raise _Refusal(
                    grpc.StatusCode.INVALID_ARGUMENT, f"texts[{index}] is longer than {self._max_chars} characters"
                )
        return list(texts)


def _refusal_for(task: Task, exc: Exception, batcher: DynamicBatcher) -> _Refusal:
    if isinstance(exc, _Refusal):
        return exc
    if isinstance(exc, QueueFull):
        retry_after = max(1, math.ceil(batcher.drain_estimate_s()))
        return _Refusal(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), [(RETRY_AFTER_METADATA_KEY, str(retry_after))])
    if isinstance(exc, DeadlineExpired):
        return _Refusal(grpc.StatusCode.DEADLINE_EXCEEDED, str(exc))
    if isinstance(exc, BatcherClosed):
        return _Refusal(grpc.StatusCode.UNAVAILABLE, str(exc))
    if isinstance(exc, BatchFailed):
        return _Refusal(grpc.StatusCode.INTERNAL, str(exc))
    log.exception("%s call failed unexpectedly", task.value, exc_info=exc)
    return _Refusal(grpc.StatusCode.INTERNAL, f"{task.value} failed ({type(exc).__name__})")


def _deadline(context: grpc.aio.ServicerContext) -> float | None:
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining
