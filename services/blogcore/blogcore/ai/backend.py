"""The interface every AI backend implements, its result types and its errors.

Backends work on batches: a list of texts in, a list of results out, in the same order.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any



class Task(StrEnum):
    SUMMARIZE = "summarize"
    SENTIMENT = "sentiment"
    TITLE = "title"
    TAGS = "tags"


# Scores are rounded so that float noise (batched vs unbatched runs, float32 over gRPC) does not show.
SCORE_DECIMALS = 4


def rounded_score(score: float) -> float:
    return round(float(score), SCORE_DECIMALS)


@dataclass(frozen=True)
class ModelInfo:
    """What answered a task, said in every AI response so synthetic output is never mistaken for real."""

    task: Task
    model_id: str
    source: str  # "hub" or "synthetic" (what was actually loaded, after any fallback)
    max_input_tokens: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        return self.source == "synthetic"

    def as_dict(self) -> dict[str, Any]:
        """The backends' readiness detail of one model."""
        return {**asdict(self), "task": str(self.task)}


def answered_by() -> Any:
    """A result's model field: which model computed it (None where the backend cannot tell).

    The answer's meta is built from the result itself, so no backend is asked again (a remote one would block an
    event loop for it). Not compared: two equal readings are equal whatever answered them.
    """
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Summary:
    text: str
    truncated: bool = False
    model: ModelInfo | None = answered_by()


@dataclass(frozen=True)
class Sentiment:
    stars: int
    score: float
    truncated: bool = False
    model: ModelInfo | None = answered_by()


@dataclass(frozen=True)
class SuggestedTitle:
    text: str
    truncated: bool = False
    model: ModelInfo | None = answered_by()


@dataclass(frozen=True)
class Tags:
    # (tag, probability) pairs above the classifier's threshold, most likely first
    tags: tuple[tuple[str, float], ...]
    truncated: bool = False
    model: ModelInfo | None = answered_by()


Result = Summary | Sentiment | SuggestedTitle | Tags


@dataclass(frozen=True)
class Readiness:
    ready: bool
    detail: dict[str, Any]


class AIError(Exception):
    """An AI task could not answer. A domain error: the HTTP layer (blogcore.ai_errors_http) and the inference
    service (gRPC codes) each say it in their own protocol."""

    # Whole seconds after which a retry may succeed; None when waiting would not help.
    retry_after_s: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AIDisabled(AIError):
    """AI is switched off in this deployment."""


class _RetrySoon(AIError):
    """A passing failure (warming up, reconnecting): worth a retry in a second, unlike AI that is switched off."""

    retry_after_s = 1


class AINotReady(_RetrySoon):
    """The models are still loading."""


class AIUnavailable(_RetrySoon):
    """The inference service cannot be reached."""


class AIOverloaded(AIError):
    """Refused at once: the work could not finish in its time budget."""

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AITimeout(AIError):
    """The model did not answer in time."""


class AIClientGone(AIError):
    """The client left before its answer was ready, so the work was dropped."""


class AIInvalidInput(AIError):
    """The model refused the input."""


# Asked just before a model call starts: True when the client has gone, so the call would answer nobody.
ClientGoneCheck = Callable[[], bool]


def never_gone() -> bool:
    return False


class AIBackend(abc.ABC):
    """One way of running the four tasks: off, in this process, or in the inference service."""

    mode: str

    def start(self) -> None:
        """Begin loading and warming up without blocking; called once per worker process, after fork."""

    def close(self) -> None:
        """Release threads, channels and models."""

    @abc.abstractmethod
    def readiness(self) -> Readiness: ...

    @abc.abstractmethod
    def model_info(self, task: Task) -> ModelInfo | None: ...

    @abc.abstractmethod
    def run(self, task: Task, texts: list[str], client_gone: ClientGoneCheck = never_gone) -> list[Result]:
        """Run one task on a batch, blocking; raises AIError subclasses."""

    @abc.abstractmethod
    async def arun(self, task: Task, texts: list[str]) -> list[Result]:
        """The same for asyncio servers; never blocks the event loop, and cancelling it abandons the call."""


class OffBackend(AIBackend):
    """The no-AI baseline: AI routes answer 503 and nothing of torch is imported."""

    mode = "off"

    def readiness(self) -> Readiness:
        return Readiness(True, {"inference_mode": self.mode})

    def model_info(self, task: Task) -> ModelInfo | None:
        return None

    def run(self, task: Task, texts: list[str], client_gone: ClientGoneCheck = never_gone) -> list[Result]:
        raise AIDisabled("AI features are off in this deployment (INFERENCE_MODE=off)")

    async def arun(self, task: Task, texts: list[str]) -> list[Result]:
        return self.run(task, texts)
