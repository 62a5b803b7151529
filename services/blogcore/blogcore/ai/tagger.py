"""The tag classifier: all-MiniLM-L6-v2 sentence embeddings and a trained multi-label linear head.

The head (a few kB) lives in the artifact directory: head.safetensors, labels.json (labels, threshold, embedder)
and metrics.json (how well it did on held-out posts). train_tagger writes it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from blogcore.ai.backend import Tags
from blogcore.ai.models import EMBEDDER_ID, EMBEDDER_MAX_TOKENS, LoadedModel, load_embedder

DEFAULT_ARTIFACT_DIR = Path(__file__).resolve().parent.parent / "artifacts" / "tagger"
HEAD_FILE = "head.safetensors"
LABELS_FILE = "labels.json"
METRICS_FILE = "metrics.json"
ARTIFACT_FORMAT = 1
EMBED_BATCH = 32


class Embedder:
    """Mean-pooled, L2-normalised MiniLM sentence embeddings, as sentence-transformers computes them."""

    def __init__(self, loaded: LoadedModel | None = None, max_tokens: int = EMBEDDER_MAX_TOKENS):
        self.loaded = loaded or load_embedder()
        self.max_tokens = max_tokens
        # A fast tokenizer's truncation/padding state is mutable: concurrent calls fail with "Already borrowed".
        self._tokenizer_lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return self.loaded.model.config.hidden_size

    def embed(self, texts: Sequence[str], batch_size: int = EMBED_BATCH) -> tuple[torch.Tensor, list[bool]]:
        """Embeddings [len(texts), dimension] and, per text, whether it was cut at the token limit."""
        vectors: list[torch.Tensor] = []
        truncated: list[bool] = []
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            with self._tokenizer_lock:
                lengths = [len(ids) for ids in self.loaded.tokenizer(chunk, verbose=False)["input_ids"]]
                batch = self.loaded.tokenizer(
                    chunk, truncation=True, max_length=self.max_tokens, padding=True, return_tensors="pt"
                )
            truncated.extend(length > self.max_tokens for length in lengths)
            with torch.inference_mode():
                hidden = self.loaded.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                vectors.append(torch.nn.functional.normalize(pooled, p=2, dim=1))
        if not vectors:
            return torch.empty(0, self.dimension), []
        return torch.cat(vectors), truncated


@dataclass(frozen=True)
class TagHead:
    """The trained part: one logistic unit per tag over the embedding, and the decision threshold."""

    labels: tuple[str, ...]
    weight: torch.Tensor  # [labels, dimension]
    bias: torch.Tensor  # [labels]
    threshold: float

    def probabilities(self, embeddings: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(embeddings @ self.weight.T + self.bias)

    def save(self, directory: Path, metrics: dict | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        save_file(
            {"weight": self.weight.contiguous().float(), "bias": self.bias.contiguous().float()},
            str(directory / HEAD_FILE),
        )
        # safetensors writes owner-only files; images that run as another user must still read the artifact
        (directory / HEAD_FILE).chmod(0o644)
        meta = {
            "format": ARTIFACT_FORMAT,
            "labels": list(self.labels),
            "threshold": self.threshold,
            "embedder": EMBEDDER_ID,
            "embedder_max_tokens": EMBEDDER_MAX_TOKENS,
            "pooling": "mean, L2-normalised",
        }
        (directory / LABELS_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        if metrics is not None:
            (directory / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, directory: Path) -> "TagHead":
        meta = json.loads((directory / LABELS_FILE).read_text())
        if meta.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"tagger artifact {directory} has format {meta.get('format')}, expected {ARTIFACT_FORMAT}")
        tensors = load_file(str(directory / HEAD_FILE))
        head = cls(tuple(meta["labels"]), tensors["weight"], tensors["bias"], float(meta["threshold"]))
        if head.weight.shape[0] != len(head.labels) or head.bias.shape != (len(head.labels),):
            raise ValueError(f"tagger artifact {directory}: weights do not match its {len(head.labels)} labels")
        return head


def select_tags(
    probabilities: Sequence[float], labels: Sequence[str], threshold: float
) -> tuple[tuple[str, float], ...]:
    """Tags at or above the threshold, at least the most likely one, most likely first."""
    ranked = sorted(zip(labels, (float(p) for p in probabilities)), key=lambda pair: -pair[1])
    chosen = [pair for pair in ranked if pair[1] >= threshold]
    return tuple(chosen or ranked[:1])


class Tagger:
    """Predicts tags for posts with the real MiniLM embedder and the shipped (or given) trained head."""

    def __init__(self, artifact_dir: Path | None = None, embedder: Embedder | None = None):
        self.artifact_dir = Path(artifact_dir or DEFAULT_ARTIFACT_DIR)
        self.head = TagHead.load(self.artifact_dir)
        self.embedder = embedder or Embedder()
        if self.head.weight.shape[1] != self.embedder.dimension:
            raise ValueError("tagger head does not match the embedder's dimension")
        metrics_path = self.artifact_dir / METRICS_FILE
        self.metrics: dict = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}

    def predict(self, texts: Sequence[str]) -> list[Tags]:
        embeddings, truncated = self.embedder.embed(texts)
        with torch.inference_mode():
            probabilities = self.head.probabilities(embeddings).tolist()
        return [
            Tags(select_tags(row, self.head.labels, self.head.threshold), truncated=cut)
            for row, cut in zip(probabilities, truncated)
        ]
