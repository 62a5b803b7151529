import logging

import pytest
import torch

from blogcore.ai.backend import Task
from blogcore.ai.engine import ModelEngine
from blogcore.ai.models import (
    PROFILES,
    Architecture,
    build_synthetic,
    load_embedder,
    load_task_model,
    synthetic_config,
    synthetic_tokenizer,
)
from blogcore.settings import ModelProfile


def test_light_and_full_synthetic_configs_have_the_hub_models_hyper_parameters():
    light, full = PROFILES[ModelProfile.LIGHT], PROFILES[ModelProfile.FULL]
    summarizer = synthetic_config(light[Task.SUMMARIZE], synthetic_tokenizer(Architecture.SEQ2SEQ))
    assert (summarizer.encoder_layers, summarizer.decoder_layers, summarizer.d_model) == (6, 6, 1024)
    assert (summarizer.vocab_size, summarizer.max_position_embeddings, summarizer.encoder_attention_heads) == (
        50264, 1024, 16,
    )
    large = synthetic_config(full[Task.SUMMARIZE], synthetic_tokenizer(Architecture.SEQ2SEQ))
    assert (large.encoder_layers, large.decoder_layers, large.encoder_ffn_dim) == (12, 12, 4096)
    sentiment = synthetic_config(light[Task.SENTIMENT], synthetic_tokenizer(Architecture.CLASSIFIER))
    assert (sentiment.vocab_size, sentiment.num_hidden_layers, sentiment.hidden_size, sentiment.num_labels) == (
        105879, 12, 768, 5,
    )
    title = synthetic_config(light[Task.TITLE], synthetic_tokenizer(Architecture.CAUSAL_LM))
    assert (title.vocab_size, title.n_layer, title.n_embd, title.n_head, title.n_positions) == (50257, 6, 768, 12, 1024)


def test_synthetic_weights_depend_only_on_the_seed():
    spec = PROFILES[ModelProfile.TINY][Task.TITLE]
    first, second, other = (build_synthetic(spec, seed)[1] for seed in (5, 5, 6))
    weights = [m.transformer.h[0].attn.c_attn.weight for m in (first, second, other)]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])


def test_hub_path_loads_a_saved_model_directory_offline(tmp_path, tiny_settings, tiny_engine, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fields = {Task.SUMMARIZE: "summary_model", Task.SENTIMENT: "sentiment_model", Task.TITLE: "title_model"}
    overrides = {}
    for task, field in fields.items():
        loaded = load_task_model(tiny_settings(), task)  # the same seeded weights the tiny engine runs
        directory = tmp_path / str(task)
        loaded.model.save_pretrained(directory)
        loaded.tokenizer.save_pretrained(directory)
        overrides[field] = str(directory)
    engine = ModelEngine(tiny_settings(model_source="hub", **overrides))
    engine.load()
    texts = ["A post about sourdough bread and a trip to Lisbon.", "Short."]
    for task, field in fields.items():
        info = engine.info(task)
        assert info.source == "hub" and info.model_id == overrides[field]
        assert engine.run_batch(task, texts) == tiny_engine.run_batch(task, texts)


def test_hub_source_fails_loudly_on_a_model_it_cannot_get(tiny_settings, caplog):
    with caplog.at_level(logging.ERROR, logger="blogcore.ai.models"), pytest.raises(OSError) as caught:
        load_task_model(tiny_settings(model_source="hub", summary_model="no-such-org/no-such-model"), Task.SUMMARIZE)
    message = str(caught.value)
    assert "no-such-org/no-such-model" in message
    for fix in ("MODEL_SOURCE=synthetic", "MODEL_SOURCE=auto", "HF_HUB_OFFLINE=1", "SUMMARY_MODEL"):
        assert fix in message, fix
    assert caught.value.__suppress_context__, "the raw transformers traceback is not the user's business"
    errors_logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors_logged == [message]


def test_auto_falls_back_to_synthetic_with_a_warning(tiny_settings, caplog):
    settings = tiny_settings(model_source="auto", sentiment_model="no-such-org/no-such-model")
    with caplog.at_level(logging.WARNING, logger="blogcore.ai.models"):
        loaded = load_task_model(settings, Task.SENTIMENT)
    assert loaded.source == "synthetic"
    assert any("FALLING BACK TO SYNTHETIC" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert loaded.model.config.num_labels == 5


def test_embedder_is_the_real_minilm_through_the_hub_code_path():
    loaded = load_embedder()
    assert loaded.source == "hub" and loaded.model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert (loaded.model.config.num_hidden_layers, loaded.model.config.hidden_size) == (6, 384)
