"""The four AI tasks on loaded models, in batches: shared by InProcessBackend and the gRPC inference service.

Batched and unbatched runs give the same results: attention masks everywhere, GPT-2 prompts padded on the
left, eval mode, no sampling, and generation of a fixed length (min_new_tokens = max_new_tokens) so that
runs with different weights (hub or synthetic) do the same amount of work.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import GenerationConfig

from blogcore.ai.backend import (
    SCORE_DECIMALS,
    AIError,
    AIInvalidInput,
    ModelInfo,
    Result,
    Sentiment,
    SuggestedTitle,
    Summary,
    Tags,
    Task,
)
from blogcore.ai.models import (
    SENTIMENT_LABELS,
    Architecture,
    LoadedModel,
    load_task_model,
    max_input_tokens,
    spec_for,
)
from blogcore.ai.tagger import Tagger
from blogcore.heap import freeze_what_is_loaded
from blogcore.settings import ModelSettings

log = logging.getLogger(__name__)

TITLE_PROMPT_SUFFIX = "\nTitle:"
# The largest batch one forward pass gets; bigger requests are split, which keeps peak memory bounded.
MAX_BATCH = 16
WARM_UP_TEXT = "Warming up: a short post about Python web services, databases and a weekend of cooking."

_interop_configured = False


def configure_torch(threads: int) -> None:
    """Set torch's thread pools for this process; call it after fork and before any forward pass."""
    global _interop_configured
    # Settings are accepted too (their effective_torch_threads), as gunicorn's post_fork hook passes them.
    threads = max(1, int(getattr(threads, "effective_torch_threads", threads)))
    # Tokenizers' own thread pool breaks across fork and competes with torch's threads for the same cores.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    torch.set_num_threads(threads)
    if not _interop_configured:
        try:
            # Inference is one op after another: a single inter-op thread is all it uses.
            torch.set_num_interop_threads(1)
        except RuntimeError:  # only settable once per process, before any parallel work
            log.debug("torch inter-op threads were already set in this process")
        _interop_configured = True


@dataclass
class _TaskModel:
    loaded: LoadedModel
    architecture: Architecture
    max_input_tokens: int
    generation: GenerationConfig | None = None
    # A fast tokenizer's truncation/padding state is mutable: concurrent calls fail with "Already borrowed".
    tokenizer_lock: threading.Lock = field(default_factory=threading.Lock)


class ModelEngine:
    """Loads the four models once and runs batches; shared by InProcessBackend and the gRPC inference service."""

    def __init__(self, settings: ModelSettings):
        self.settings = settings
        self._models: dict[Task, _TaskModel] = {}
        self._tagger: Tagger | None = None
        self._infos: dict[Task, ModelInfo] = {}
        self._load_lock = threading.Lock()
        self._loaded = False
        self._warmed = False

    @property
    def loaded(self) -> bool:
        return self._loaded

    @property
    def warmed(self) -> bool:
        return self._warmed

    def load(self) -> None:
        """Load every model once; concurrent callers wait for the first."""
        if self._loaded:
            return
        with self._load_lock:
            if self._loaded:
                return
            started = time.perf_counter()
            self._tagger = Tagger(self.settings.tagger_path)
            for task in (Task.SUMMARIZE, Task.SENTIMENT, Task.TITLE):
                self._models[task] = self._prepare(task, load_task_model(self.settings, task))
            self._loaded = True
            log.info("AI models loaded in %.1f s: %s", time.perf_counter() - started, self._describe())
            # With tiny models a full collection walked some 400,000 objects for about 185 ms, holding the GIL
            # (blogcore.heap); frozen in a preloading master, collections in its workers also leave shared pages alone.
            freeze_what_is_loaded("the AI models")

    def warm_up(self) -> None:
        """One small batch per task, so that the first real request does not pay for lazy initialisation."""
        self.load()
        started = time.perf_counter()
        for task in Task:
            self.run_batch(task, [WARM_UP_TEXT])
        self._warmed = True
        log.info("AI models warmed up in %.1f s", time.perf_counter() - started)
        freeze_what_is_loaded("the warm AI models")

    def info(self, task: Task) -> ModelInfo:
        """What answers the task (loading the models if needed); computed once, readiness probes ask often."""
        self.load()
        task = Task(task)
        if task not in self._infos:
            self._infos[task] = self._describe_task(task)
        return self._infos[task]

    def _describe_task(self, task: Task) -> ModelInfo:
        if task is Task.TAGS:
            tagger = self._require_tagger()
            loaded = tagger.embedder.loaded
            metrics = tagger.metrics
            return ModelInfo(
                task=task,
                model_id=loaded.model_id,
                source=loaded.source,
                max_input_tokens=tagger.embedder.max_tokens,
                extra={
                    "classifier": "multi-label logistic head trained by blogcore.ai.train_tagger",
                    "labels": list(tagger.head.labels),
                    "threshold": tagger.head.threshold,
                    "test_micro_f1": metrics.get("test", {}).get("micro_f1"),
                },
            )
        model = self._models[task]
        extra: dict[str, Any] = {
            "profile": str(self.settings.model_profile),
            "architecture": type(model.loaded.model).__name__,
            "parameters": model.loaded.parameters,
        }
        if model.generation is not None:
            extra.update(max_new_tokens=model.generation.max_new_tokens, num_beams=model.generation.num_beams)
        if model.loaded.source == "synthetic":
            extra.update(seed=self.settings.synthetic_seed, note="random weights: output text is meaningless")
        return ModelInfo(task, model.loaded.model_id, model.loaded.source, model.max_input_tokens, extra)

    def run_batch(self, task: Task, texts: list[str]) -> list[Result]:
        """Results for texts, in input order; raises AIInvalidInput on bad input and AIError on model failure."""
        try:
            task = Task(task)
        except ValueError:
            raise AIInvalidInput(f"unknown AI task {task!r}") from None
        if not isinstance(texts, (list, tuple)) or not all(isinstance(text, str) for text in texts):
            raise AIInvalidInput("texts must be a list of strings")
        if not texts:
            return []
        self.load()
        runner = self._runners()[task]
        results: list[Result] = []
        try:
            for start in range(0, len(texts), MAX_BATCH):
                results.extend(runner(list(texts[start : start + MAX_BATCH])))
        except AIError:
            raise
        except Exception as exc:
            log.exception("%s model failed on a batch of %d", task, len(texts))
            raise AIError(f"the {task} model failed ({type(exc).__name__})") from exc
        return results

    # -- per task ------------------------------------------------------------------------------------------

    def _runners(self) -> dict[Task, Callable[[list[str]], list[Result]]]:
        return {
            Task.SUMMARIZE: self._summarize,
            Task.SENTIMENT: self._sentiment,
            Task.TITLE: self._title,
            Task.TAGS: self._tags,
        }

    def _summarize(self, texts: list[str]) -> list[Result]:
        model = self._models[Task.SUMMARIZE]
        batch, truncated = self._encode(model, texts)
        with torch.inference_mode():
            output = model.loaded.model.generate(**batch, generation_config=model.generation)
        return [Summary(text, cut) for text, cut in zip(self._decode(model, output), truncated)]

    def _sentiment(self, texts: list[str]) -> list[Result]:
        model = self._models[Task.SENTIMENT]
        batch, truncated = self._encode(model, texts)
        with torch.inference_mode():
            probabilities = torch.softmax(model.loaded.model(**batch).logits.float(), dim=-1)
        best = probabilities.max(dim=-1)
        return [
            Sentiment(stars=int(index) + 1, score=round(float(score), SCORE_DECIMALS), truncated=cut)
            for score, index, cut in zip(best.values, best.indices, truncated)
        ]

    def _title(self, texts: list[str]) -> list[Result]:
        model = self._models[Task.TITLE]
        tokenizer = model.loaded.tokenizer
        with model.tokenizer_lock:
            suffix = tokenizer(TITLE_PROMPT_SUFFIX, add_special_tokens=False)["input_ids"]
            bodies = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
            # the prompt keeps its "Title:" suffix; the post is cut to fit the window before it
            budget = max(0, model.max_input_tokens - len(suffix))
            prompts = [ids[:budget] + suffix for ids in bodies]
            batch = tokenizer.pad({"input_ids": prompts}, padding=True, return_tensors="pt")
        truncated = [len(ids) > budget for ids in bodies]
        with torch.inference_mode():
            output = model.loaded.model.generate(**batch, generation_config=model.generation)
        continuations = self._decode(model, output[:, batch["input_ids"].shape[1] :])
        return [SuggestedTitle(_first_line(text), cut) for text, cut in zip(continuations, truncated)]

    def _tags(self, texts: list[str]) -> list[Result]:
        results = self._require_tagger().predict(texts)
        return [
            Tags(tuple((tag, round(p, SCORE_DECIMALS)) for tag, p in result.tags), result.truncated)
            for result in results
        ]

    # -- helpers -------------------------------------------------------------------------------------------

    def _prepare(self, task: Task, loaded: LoadedModel) -> _TaskModel:
        architecture = spec_for(self.settings, task).architecture
        if architecture is Architecture.CLASSIFIER and loaded.model.config.num_labels != SENTIMENT_LABELS:
            raise ValueError(f"sentiment model {loaded.model_id} has {loaded.model.config.num_labels} labels, not 5")
        max_new = {Task.SUMMARIZE: self.settings.summary_max_new_tokens, Task.TITLE: self.settings.title_max_new_tokens}
        generation = None
        if task in max_new:
            generation = generation_config_for(loaded, max_new[task], self.settings.num_beams)
        window = max_input_tokens(loaded, architecture, max_new.get(task, 0))
        if window < 8:
            raise ValueError(f"{task} model {loaded.model_id} leaves only {window} input tokens")
        return _TaskModel(loaded, architecture, window, generation)

    def _encode(self, model: _TaskModel, texts: list[str]) -> tuple[dict[str, torch.Tensor], list[bool]]:
        tokenizer = model.loaded.tokenizer
        limit = model.max_input_tokens
        with model.tokenizer_lock:
            lengths = [len(ids) for ids in tokenizer(texts, verbose=False)["input_ids"]]
            batch = tokenizer(texts, truncation=True, max_length=limit, padding=True, return_tensors="pt")
        inputs = dict(batch)
        if model.architecture is not Architecture.CLASSIFIER:
            inputs.pop("token_type_ids", None)  # BERT-style stand-in tokenizers add them; BART takes none
        return inputs, [length > limit for length in lengths]

    def _decode(self, model: _TaskModel, ids: torch.Tensor) -> list[str]:
        tokenizer = model.loaded.tokenizer
        vocabulary = len(tokenizer)
        # A synthetic model's vocabulary is larger than its stand-in tokenizer's: drop ids it cannot spell.
        rows = [[token for token in row if token < vocabulary] for row in ids.tolist()]
        with model.tokenizer_lock:
            texts = tokenizer.batch_decode(rows, skip_special_tokens=True, clean_up_tokenization_spaces=True)
        return [text.strip() for text in texts]

    def _require_tagger(self) -> Tagger:
        if self._tagger is None:
            raise AIError("the tag classifier is not loaded")
        return self._tagger

    def _describe(self) -> str:
        parts = [f"{task}={m.loaded.model_id} ({m.loaded.source})" for task, m in self._models.items()]
        return ", ".join(parts + ["tags=all-MiniLM-L6-v2 + trained head"])


def generation_config_for(loaded: LoadedModel, max_new_tokens: int, num_beams: int) -> GenerationConfig:
    """Fixed settings for hub and synthetic alike: greedy or beam search, never sampling, a fixed length."""
    config = loaded.model.config
    options: dict[str, Any] = dict(
        max_new_tokens=max_new_tokens,
        min_new_tokens=max_new_tokens,
        num_beams=num_beams,
        do_sample=False,
        # as the CNN summarizers ship; also keeps random weights from repeating one token forever
        no_repeat_ngram_size=3,
        pad_token_id=loaded.tokenizer.pad_token_id,
        eos_token_id=config.eos_token_id,
        bos_token_id=config.bos_token_id,
    )
    if num_beams > 1:
        options["early_stopping"] = True
    if config.is_encoder_decoder:
        options["decoder_start_token_id"] = config.decoder_start_token_id
        forced_bos = getattr(loaded.model.generation_config, "forced_bos_token_id", None)
        if forced_bos is not None:
            options["forced_bos_token_id"] = forced_bos
    return GenerationConfig(**options)


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0].strip()

