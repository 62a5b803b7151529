import threading

import pytest
import torch

from blogcore.ai.backend import AIError, AIInvalidInput, Sentiment, Summary, SuggestedTitle, Tags, Task
from blogcore.ai.engine import ModelEngine, configure_torch, generation_config_for
from blogcore.ai.models import load_task_model
from blogcore.ai.tagger import TagHead, DEFAULT_ARTIFACT_DIR
from blogcore.ai_errors_http import http_error_for

TEXTS = [
    "I finally tuned the PostgreSQL indexes and the slow query went from seconds to milliseconds.",
    "Short.",
    "A much longer post about a road trip through the Alps, the food we ate, the budget we blew and the "
    "people we met on the way, written over several evenings in small guesthouses.",
]
ODD_TEXTS = [
    "",
    "   \n\t ",
    "😀🍝 ünïcödé ✓ 中文 عربى",
    "\x00\x01 control",
    "x" * 20_000,
    "<script>alert(1)</script>",
]


def test_each_task_answers_with_its_result_type(tiny_engine):
    summaries = tiny_engine.run_batch(Task.SUMMARIZE, TEXTS)
    assert all(isinstance(s, Summary) and isinstance(s.text, str) and s.text for s in summaries)
    for sentiment in tiny_engine.run_batch(Task.SENTIMENT, TEXTS):
        assert isinstance(sentiment, Sentiment) and 1 <= sentiment.stars <= 5 and 0.2 <= sentiment.score <= 1
    for title in tiny_engine.run_batch(Task.TITLE, TEXTS):
        assert isinstance(title, SuggestedTitle) and "\n" not in title.text and title.text == title.text.strip()
    labels = TagHead.load(DEFAULT_ARTIFACT_DIR).labels
    for tags in tiny_engine.run_batch(Task.TAGS, TEXTS):
        assert isinstance(tags, Tags) and tags.tags and {tag for tag, _ in tags.tags} <= set(labels)
        assert [p for _, p in tags.tags] == sorted((p for _, p in tags.tags), reverse=True)


@pytest.mark.parametrize("task", list(Task))
def test_batched_results_equal_unbatched_ones(tiny_engine, task):
    texts = TEXTS + ODD_TEXTS[:3]
    batched = tiny_engine.run_batch(task, texts)
    assert batched == [tiny_engine.run_batch(task, [text])[0] for text in texts]
    assert len(set(batched)) > 1, "a tiny model that answers the same for every input proves nothing"


def test_beam_search_batched_equals_unbatched(tiny_settings):
    engine = ModelEngine(tiny_settings(num_beams=2, summary_max_new_tokens=8, title_max_new_tokens=6))
    for task in (Task.SUMMARIZE, Task.TITLE):
        assert engine.run_batch(task, TEXTS) == [engine.run_batch(task, [t])[0] for t in TEXTS]
        assert engine.info(task).extra["num_beams"] == 2


@pytest.mark.parametrize("task", list(Task))
def test_long_input_is_truncated_and_flagged(tiny_engine, task):
    short, long = tiny_engine.run_batch(task, ["a short post", "many words in a row " * 2000])
    assert not short.truncated and long.truncated


@pytest.mark.parametrize("task", list(Task))
def test_odd_input_never_crashes(tiny_engine, task):
    assert len(tiny_engine.run_batch(task, ODD_TEXTS)) == len(ODD_TEXTS)


def test_generation_length_is_fixed_whatever_the_weights(tiny_settings):
    loaded = load_task_model(tiny_settings(), Task.SUMMARIZE)
    config = generation_config_for(loaded, max_new_tokens=7, num_beams=1)
    assert config.min_new_tokens == config.max_new_tokens == 7 and config.do_sample is False
    batch = loaded.tokenizer(["one post", "another, longer post"], padding=True, return_tensors="pt")
    batch.pop("token_type_ids")  # the stand-in tokenizer is BERT-style; BART takes none
    with torch.inference_mode():
        output = loaded.model.generate(**batch, generation_config=config)
    assert output.shape[1] == 1 + 7  # the decoder start token, then exactly max_new_tokens


def test_info_reports_what_answers_each_task(tiny_engine):
    infos = {task: tiny_engine.info(task) for task in Task}
    assert {info.source for task, info in infos.items() if task is not Task.TAGS} == {"synthetic"}
    assert infos[Task.TAGS].source == "hub" and infos[Task.TAGS].model_id.endswith("all-MiniLM-L6-v2")
    assert infos[Task.SUMMARIZE].max_input_tokens == 1024 and infos[Task.SENTIMENT].max_input_tokens == 512
    assert infos[Task.TITLE].max_input_tokens == 1024 - tiny_engine.settings.title_max_new_tokens
    assert infos[Task.SUMMARIZE].extra["max_new_tokens"] == tiny_engine.settings.summary_max_new_tokens


def test_warm_up_marks_the_engine_warmed(tiny_settings):
    engine = ModelEngine(tiny_settings())
    assert not engine.loaded and not engine.warmed
    engine.warm_up()
    assert engine.loaded and engine.warmed


def test_bad_input_is_an_invalid_input_error(tiny_engine):
    with pytest.raises(AIInvalidInput):
        tiny_engine.run_batch(Task.SENTIMENT, ["ok", 3])
    with pytest.raises(AIInvalidInput):
        tiny_engine.run_batch("poetry", ["ok"])
    assert tiny_engine.run_batch(Task.SENTIMENT, []) == []


def test_a_failing_model_becomes_an_ai_error(tiny_settings, monkeypatch):
    engine = ModelEngine(tiny_settings())
    engine.load()
    model = engine._models[Task.SENTIMENT].loaded.model

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(model, "forward", broken)
    with pytest.raises(AIError) as raised:
        engine.run_batch(Task.SENTIMENT, ["text"])
    answer = http_error_for(raised.value)
    assert answer.status == 503 and answer.code == "ai_error"


def test_concurrent_batches_from_many_threads_give_the_sequential_results(tiny_engine):
    expected = {task: tiny_engine.run_batch(task, TEXTS) for task in Task}
    results, failures = [], []

    def work(task):
        try:
            results.append((task, tiny_engine.run_batch(task, TEXTS)))
        except Exception as exc:  # collected: a thread's exception would otherwise vanish
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(task,)) for task in list(Task) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures and len(results) == len(threads)
    assert all(result == expected[task] for task, result in results)


def test_configure_torch_sets_the_threads_and_accepts_settings(tiny_settings):
    before = torch.get_num_threads()
    try:
        configure_torch(1)
        assert torch.get_num_threads() == 1
        configure_torch(type("S", (), {"effective_torch_threads": 2})())
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_loading_and_warming_up_put_the_models_out_of_the_collectors_reach(tiny_engine):
    import gc

    tiny_engine.warm_up()
    assert gc.get_freeze_count() > 100_000  # the models' objects: a full collection no longer walks them
    started_with = gc.get_freeze_count()
    gc.collect()
    assert gc.get_freeze_count() == started_with
