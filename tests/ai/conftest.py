"""Shared, session-wide models for the AI tests: tiny synthetic ones, loaded once."""

from __future__ import annotations

import pytest

from blogcore.settings import APISettings, ModelSettings


def _tiny_settings(**overrides) -> ModelSettings:
    values = dict(model_profile="tiny", model_source="synthetic", torch_threads=1)
    values.update(overrides)
    return ModelSettings(**values)


def _tiny_api_settings(**overrides) -> APISettings:
    values = dict(inference_mode="inprocess", model_profile="tiny", model_source="synthetic", torch_threads=1)
    values.update(overrides)
    return APISettings(**values)


@pytest.fixture(scope="session")
def tiny_settings():
    """A factory of ModelSettings for the tiny synthetic profile."""
    return _tiny_settings


@pytest.fixture(scope="session")
def tiny_api_settings():
    """A factory of APISettings for in-process inference on the tiny synthetic profile."""
    return _tiny_api_settings


@pytest.fixture(scope="session")
def tiny_engine():
    from blogcore.ai.engine import ModelEngine

    engine = ModelEngine(_tiny_settings())
    engine.load()
    return engine


@pytest.fixture(scope="session")
def embedder():
    from blogcore.ai.tagger import Embedder

    return Embedder()
