import json

import pytest
import torch

from blogcore.ai.backend import Tags
from blogcore.ai.corpus import TAGS
from blogcore.ai.tagger import DEFAULT_ARTIFACT_DIR, TagHead, Tagger, select_tags
from blogcore.ai.train_tagger import main as train_main
from blogcore.ai.train_tagger import train


def test_select_tags_keeps_those_over_the_threshold_most_likely_first():
    assert select_tags([0.2, 0.9, 0.6], ["a", "b", "c"], 0.5) == (("b", 0.9), ("c", 0.6))


def test_select_tags_gives_at_least_the_top_one():
    assert select_tags([0.2, 0.3, 0.1], ["a", "b", "c"], 0.5) == (("b", 0.3),)


def test_shipped_artifact_is_small_and_reports_held_out_f1_well_above_the_baseline():
    size = sum(path.stat().st_size for path in DEFAULT_ARTIFACT_DIR.iterdir())
    assert size < 1_000_000
    metrics = json.loads((DEFAULT_ARTIFACT_DIR / "metrics.json").read_text())
    assert metrics["test"]["micro_f1"] >= 0.8
    assert metrics["test"]["micro_f1"] > metrics["baseline_most_frequent_tag"]["micro_f1"] + 0.4
    assert metrics["splits"]["test"] >= 300 and metrics["corpus"]["posts"] >= 2000
    head = TagHead.load(DEFAULT_ARTIFACT_DIR)
    assert head.labels == TAGS and 0 < head.threshold < 1


@pytest.fixture(scope="module")
def shipped_tagger(embedder):
    return Tagger(embedder=embedder)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("My Django view was slow, so I profiled the Python code, added type hints and wrote pytest tests.", "python"),
        ("Knead the dough, let it rise overnight, then bake the bread in a very hot oven with some garlic.", "cooking"),
        ("We rotated every leaked API key and turned on two-factor authentication after phishing.", "security"),
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


def test_retraining_on_a_small_corpus_beats_the_trivial_baseline(embedder):
    head, metrics = train(posts=400, seed=11, epochs=200, embedder=embedder)
    assert metrics["splits"] == {"train": 280, "validation": 60, "test": 60}
    assert metrics["test"]["micro_f1"] >= 0.7
    assert metrics["test"]["micro_f1"] > metrics["baseline_most_frequent_tag"]["micro_f1"] + 0.4
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
    assert train_main(["--posts", "120", "--epochs", "50", "--seed", "2", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"head.safetensors", "labels.json", "metrics.json"}
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["corpus"]["posts"] == 120 and metrics["corpus"]["seed"] == 2
    assert {"micro_f1", "macro_f1"} <= set(metrics["test"])
    assert "micro-F1" in capsys.readouterr().out
    assert TagHead.load(tmp_path).labels == TAGS
