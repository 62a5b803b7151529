"""The README's tag-classifier figures, generated from the artifact's metrics.json so the two cannot disagree.

`python -m blogcore.ai.tagger_report README.md` rewrites the block between the markers; tests/test_readme.py
fails when the committed README differs from what this module generates.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from blogcore.ai.tagger import DEFAULT_ARTIFACT_DIR, METRICS_FILE

BEGIN = "<!-- tagger-figures: generated from metrics.json by `python -m blogcore.ai.tagger_report README.md` -->"
END = "<!-- /tagger-figures -->"
_COLUMNS = ("micro_f1", "macro_f1", "micro_precision", "micro_recall", "exact_match")


def _row(name: str, scores: dict, bold: bool = False) -> str:
    cells = [f"{scores[column]:.4f}" for column in _COLUMNS]
    if bold:
        cells[0] = f"**{cells[0]}**"
    return f"| {name} | " + " | ".join(cells) + " |"


def _comparison(test: dict, tfidf: dict) -> str:
    micro, macro = test["micro_f1"] - tfidf["micro_f1"], test["macro_f1"] - tfidf["macro_f1"]
    if micro > 0:
        return f"The classifier beats the TF-IDF baseline by {micro:.4f} micro-F1 and {macro:+.4f} macro-F1."
    return (
        f"The classifier falls short of the TF-IDF baseline by {-micro:.4f} micro-F1 and {-macro:.4f} macro-F1 "
        "(why: below the table)."
    )


def figures_block(metrics: dict) -> str:
    """The generated README block: where the text comes from, the held-out table and the comparison."""
    corpus, splits = metrics["corpus"], metrics["splits"]
    test, baselines = metrics["test"], metrics["baselines"]
    tfidf = baselines["tfidf_logistic_regression"]
    lines = [
        BEGIN,
        f"Corpus: `{corpus['corpus']}`, {corpus['description']}. "
        + (f"Source: {corpus['source']}. " if "source" in corpus else "")
        + f"Licence: {corpus['licence']}. {corpus['labels']} tags; {splits['train']} training, "
        f"{splits['validation']} validation (from train) and {splits['test']} held-out test texts "
        f"({corpus['split']}).",
        "",
        "| on the held-out test split | micro-F1 | macro-F1 | micro precision | micro recall | exact match |",
        "|---|---|---|---|---|---|",
        _row(f"the trained classifier (threshold {metrics['threshold']})", test, bold=True),
        _row(f"baseline: TF-IDF + logistic regression (threshold {tfidf['threshold']})", tfidf),
        _row("baseline: always the most frequent tag", baselines["most_frequent_tag"]),
        "",
        _comparison(test, tfidf),
        END,
    ]
    return "\n".join(lines)


def replace_block(readme: str, block: str) -> str:
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    return readme[:start] + block + readme[end:]


def readme_block(readme: str) -> str:
    """The generated block as the README has it now."""
    return readme[readme.index(BEGIN) : readme.index(END) + len(END)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readme", type=Path, help="the README to update in place")
    parser.add_argument("--artifact", type=Path, default=DEFAULT_ARTIFACT_DIR, help="artifact directory")
    args = parser.parse_args(argv)
    metrics = json.loads((args.artifact / METRICS_FILE).read_text())
    readme = args.readme.read_text()
    if BEGIN not in readme or END not in readme:
        parser.error(f"{args.readme} has no tagger figures block ({BEGIN} ... {END})")
    args.readme.write_text(replace_block(readme, figures_block(metrics)))
    print(f"tagger figures in {args.readme} updated from {args.artifact / METRICS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
