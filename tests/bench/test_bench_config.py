import tomllib

import pytest

from bench.config import DEFAULT_CONFIG, ConfigError, deep_merge, load_config, parse_config


def raw_default() -> dict:
    return tomllib.loads(DEFAULT_CONFIG.read_text())


def test_default_config_is_the_full_matrix_with_three_trials():
    config = load_config()
    assert config.matrix.frameworks == ("flask", "fastapi", "django")
    assert config.matrix.modes == ("off", "inprocess", "remote")
    assert {"crud", "ai_mixed"} <= set(config.matrix.scenarios)
    assert config.matrix.trials >= 3
    assert (config.services.model_source, config.services.model_profile) == ("synthetic", "light")
    assert config.batching.enabled and config.batching.unbatched_env == {"BATCH_MAX_SIZE": "1"}


def test_profiles_merge_over_the_base():
    quick, full = load_config(profile="quick"), load_config(profile="full")
    assert quick.matrix.trials == 1 and quick.services.model_profile == "tiny" and not quick.batching.enabled
    assert quick.matrix.frameworks == ("flask", "fastapi", "django")  # untouched keys come from the base
    assert full.matrix.window_s > load_config().matrix.window_s
    assert set(full.matrix.scenarios) == {"crud", "ai_mixed", "ai_summarize", "ai_sentiment", "ai_title", "ai_tags"}


def test_deep_merge_keeps_siblings_and_does_not_mutate():
    base = {"a": {"x": 1, "y": 2}, "b": 3}
    merged = deep_merge(base, {"a": {"y": 5}})
    assert merged == {"a": {"x": 1, "y": 5}, "b": 3}
    assert base["a"]["y"] == 2


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("matrix", "frameworks", ["flask", "rails"], "unknown rails"),
        ("matrix", "modes", [], "must not be empty"),
        ("matrix", "trials", 0, "greater than or equal to 1"),
        ("matrix", "trials", 2.5, "valid integer"),
        ("matrix", "window_s", "long", "valid number"),
        ("services", "model_profile", "huge", "'full', 'light' or 'tiny'"),
        ("pinning", "service_cpus", [], "must be \"auto\" or a non-empty list"),
    ],
)
def test_bad_values_are_named(section, key, value, message):
    """The error names the section, the key, why and the value given."""
    raw = raw_default()
    raw[section][key] = value
    with pytest.raises(ConfigError) as raised:
        parse_config(raw)
    assert str(raised.value).startswith(f"[{section}] {key}: ")
    assert message in str(raised.value) and str(raised.value).endswith(f"(got {value!r})")


def test_a_scenario_without_a_rate_is_an_error():
    raw = raw_default()
    del raw["rates"]["crud"]
    with pytest.raises(ConfigError, match=r"\[rates\] has no value for crud"):
        parse_config(raw)


def test_missing_section_and_unknown_profile(tmp_path):
    raw = raw_default()
    del raw["slo"]
    with pytest.raises(ConfigError, match=r"missing section \[slo\]"):
        parse_config(raw)
    with pytest.raises(ConfigError, match="no \\[profiles.huge\\]"):
        parse_config(raw_default(), profile="huge")
    bad = tmp_path / "bad.toml"
    bad.write_text("[matrix\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_saturation_start_rate_off_overrides_only_off():
    sat = load_config().saturation
    assert sat.start_for("ai_mixed", "off") > sat.start_for("ai_mixed", "inprocess")
    assert sat.start_for("ai_mixed", "remote") == sat.start_rate["ai_mixed"]


@pytest.mark.parametrize(("key", "value"), [("web_workers", 65), ("num_beams", 9), ("inference_timeout_s", 0)])
def test_service_settings_are_bounded_by_the_apis_own_settings(key, value):
    raw = raw_default()
    raw["services"][key] = value
    with pytest.raises(ConfigError, match=rf"\[services\] {key}"):
        parse_config(raw)
