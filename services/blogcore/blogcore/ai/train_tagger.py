"""Train the tag classifier on the generated corpus and write the artifact: `python -m blogcore.ai.train_tagger`.

MiniLM embeddings (frozen) -> one logistic unit per tag, trained with BCE on the train split; the decision
threshold is chosen on the validation split; micro- and macro-F1 are reported on the held-out test split.
"""

from __future__ import annotations

import argparse
import logging
import platform
import random
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from blogcore.ai.corpus import TAGS, Post, generate_corpus
from blogcore.ai.tagger import DEFAULT_ARTIFACT_DIR, Embedder, TagHead

log = logging.getLogger(__name__)

THRESHOLD_GRID = [round(0.05 + 0.01 * i, 2) for i in range(91)]


@dataclass(frozen=True)
class Split:
    embeddings: torch.Tensor
    targets: torch.Tensor  # [posts, tags] of 0/1

    def __len__(self) -> int:
        return self.targets.shape[0]


def targets_of(posts: list[Post], labels: tuple[str, ...]) -> torch.Tensor:
    index = {label: i for i, label in enumerate(labels)}
    targets = torch.zeros(len(posts), len(labels))
    for row, post in enumerate(posts):
        for tag in post.tags:
            targets[row, index[tag]] = 1.0
    return targets


def predict_matrix(head: TagHead, embeddings: torch.Tensor, threshold: float) -> torch.Tensor:
    """0/1 predictions with the serving rule: tags at or above the threshold, at least the top one."""
    with torch.inference_mode():
        probabilities = head.probabilities(embeddings)
    predicted = (probabilities >= threshold).float()
    top = probabilities.argmax(dim=1)
    predicted[torch.arange(len(top)), top] = 1.0
    return predicted


def f1_scores(predicted: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    true_pos = (predicted * targets).sum(dim=0)
    false_pos = (predicted * (1 - targets)).sum(dim=0)
    false_neg = ((1 - predicted) * targets).sum(dim=0)
    tp, fp, fn = true_pos.sum(), false_pos.sum(), false_neg.sum()
    per_label = 2 * true_pos / (2 * true_pos + false_pos + false_neg).clamp(min=1)
    return {
        "micro_f1": round(float(2 * tp / (2 * tp + fp + fn).clamp(min=1)), 4),
        "macro_f1": round(float(per_label.mean()), 4),
        "micro_precision": round(float(tp / (tp + fp).clamp(min=1)), 4),
        "micro_recall": round(float(tp / (tp + fn).clamp(min=1)), 4),
        "exact_match": round(float((predicted == targets).all(dim=1).float().mean()), 4),
    }


def fit_head(train: Split, labels: tuple[str, ...], epochs: int, seed: int, weight_decay: float = 1e-4) -> TagHead:
    """Full-batch logistic regression per tag (BCE); embeddings are frozen, so this takes seconds."""
    torch.manual_seed(seed)
    linear = torch.nn.Linear(train.embeddings.shape[1], len(labels))
    optimizer = torch.optim.Adam(linear.parameters(), lr=0.05, weight_decay=weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(linear(train.embeddings), train.targets)
        loss.backward()
        optimizer.step()
    return TagHead(labels, linear.weight.detach().clone(), linear.bias.detach().clone(), threshold=0.5)


def choose_threshold(head: TagHead, validation: Split) -> float:
    """The threshold with the best validation micro-F1 (ties: the lowest)."""
    best = max(
        THRESHOLD_GRID,
        key=lambda t: (f1_scores(predict_matrix(head, validation.embeddings, t), validation.targets)["micro_f1"], -t),
    )
    return best


def most_frequent_tag_baseline(train: Split, test: Split) -> dict[str, float]:
    """Every post gets the tag most frequent in training: what a classifier that learned nothing scores."""
    predicted = torch.zeros_like(test.targets)
    predicted[:, int(train.targets.sum(dim=0).argmax())] = 1.0
    return f1_scores(predicted, test.targets)


def split_corpus(posts: list[Post], seed: int, fractions: tuple[float, float] = (0.7, 0.15)) -> tuple[list[Post], ...]:
    order = list(range(len(posts)))
    random.Random(seed + 1).shuffle(order)
    n_train = int(len(posts) * fractions[0])
    n_val = int(len(posts) * fractions[1])
    pick = lambda idx: [posts[i] for i in idx]  # noqa: E731
    return pick(order[:n_train]), pick(order[n_train : n_train + n_val]), pick(order[n_train + n_val :])


def train(posts: int, seed: int, epochs: int, embedder: Embedder | None = None) -> tuple[TagHead, dict]:
    """Generate, embed, fit, pick the threshold, evaluate: the head and its metrics."""
    started = time.perf_counter()
    labels = TAGS
    corpus = generate_corpus(posts, seed)
    parts = split_corpus(corpus, seed)
    embedder = embedder or Embedder()
    splits = []
    for part in parts:
        embeddings, _ = embedder.embed([post.body for post in part])
        splits.append(Split(embeddings, targets_of(part, labels)))
    train_split, val_split, test_split = splits
    embedded = time.perf_counter()
    head = fit_head(train_split, labels, epochs, seed)
    threshold = choose_threshold(head, val_split)
    head = TagHead(labels, head.weight, head.bias, threshold)
    test_scores = f1_scores(predict_matrix(head, test_split.embeddings, threshold), test_split.targets)
    per_label = {}
    for i, label in enumerate(labels):
        predicted = predict_matrix(head, test_split.embeddings, threshold)[:, i : i + 1]
        per_label[label] = f1_scores(predicted, test_split.targets[:, i : i + 1])["micro_f1"]
    metrics = {
        "corpus": {
            "generator": "blogcore.ai.corpus",
            "posts": posts,
            "seed": seed,
            "tags_per_post": round(float(sum(len(p.tags) for p in corpus) / max(1, len(corpus))), 3),
            "label_counts": {label: sum(label in p.tags for p in corpus) for label in labels},
        },
        "splits": {"train": len(train_split), "validation": len(val_split), "test": len(test_split)},
        "training": {"epochs": epochs, "optimizer": "Adam lr=0.05 wd=1e-4, full batch", "loss": "BCE"},
        "threshold": threshold,
        "validation": f1_scores(predict_matrix(head, val_split.embeddings, threshold), val_split.targets),
        "test": test_scores,
        "test_f1_per_label": per_label,
        "baseline_most_frequent_tag": most_frequent_tag_baseline(train_split, test_split),
        "embedder": embedder.loaded.model_id,
        "seconds": {"embedding": round(embedded - started, 1), "total": round(time.perf_counter() - started, 1)},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": _version("transformers"),
        },
    }
    return head, metrics


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=3000, help="corpus size (default 3000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=DEFAULT_ARTIFACT_DIR, help="artifact directory")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.posts < 50:
        parser.error("--posts must be at least 50")
    if args.threads:
        torch.set_num_threads(args.threads)
    head, metrics = train(args.posts, args.seed, args.epochs)
    head.save(args.out, metrics)
    test, baseline = metrics["test"], metrics["baseline_most_frequent_tag"]
    print(
        f"tagger: {metrics['splits']} posts, threshold {head.threshold}; held-out test micro-F1 {test['micro_f1']}, "
        f"macro-F1 {test['macro_f1']} (most-frequent-tag baseline micro-F1 {baseline['micro_f1']}); "
        f"{metrics['seconds']['total']} s; written to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
