"""A stand-in for blogcore.ai.engine.ModelEngine: instant, deterministic, and able to hold its loading."""

from __future__ import annotations

import threading

from blogcore.ai.backend import ModelInfo, Sentiment, Summary, SuggestedTitle, Tags, Task

WAIT_S = 5.0

_RESULTS = {
    Task.SUMMARIZE: lambda text: Summary(text[:5], len(text) > 5),
    Task.SENTIMENT: lambda text: Sentiment(len(text) % 5 + 1, 0.5),
    Task.TITLE: lambda text: SuggestedTitle(text.title()),
    Task.TAGS: lambda text: Tags((("python", 0.9), ("web", 0.3))),
}


class FakeEngine:
    """Answers instantly; load() can be held to observe the warming-up phase; 'boom' makes a batch fail."""

    def __init__(self) -> None:
        self.loading = threading.Event()
        self.loading.set()
        self.batches: list[tuple[Task, list[str]]] = []

    def load(self) -> None:
        if not self.loading.wait(WAIT_S):
            raise RuntimeError("held too long")

    def warm_up(self) -> None:
        self.load()

    def info(self, task: Task) -> ModelInfo:
        return ModelInfo(Task(task), f"fake/{task}", "synthetic", 64, {"layers": 2, "note": "fake"})

    def run_batch(self, task: Task, texts: list[str]) -> list:
        self.batches.append((task, list(texts)))
        if "boom" in texts:
            raise RuntimeError("model exploded")
        return [_RESULTS[task](text) for text in texts]


class HoldableEngine(FakeEngine):
    """Its batches wait for release: lets a queue fill or a deadline pass."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.release.set()
        self.computing = threading.Event()

    def run_batch(self, task, texts):
        self.computing.set()
        self.release.wait(WAIT_S)
        return super().run_batch(task, texts)
