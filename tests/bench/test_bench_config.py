import tomllib

import pytest

from bench.config import DEFAULT_CONFIG, ConfigError, deep_merge, load_config, parse_config


def raw_default() -> dict:
    return tomllib.loads(DEFAULT_CONFIG.read_text())


def test_default_plan_covers_every_framework_and_mode_with_arms_past_capacity():
    config = load_config()
    plan = config.plan
    assert plan.frameworks == ("flask", "fastapi", "django")
    assert plan.modes[0] == "off" and set(plan.modes) == {"off", "inprocess", "remote"}
    assert max(plan.ai_multiples) >= 2 and 1.0 in plan.ai_multiples and min(plan.ai_multiples) < 1
    assert plan.guard_off_multiples and plan.crud_samples >= 1000
    assert (config.services.model_source, config.services.model_profile) == ("synthetic", "tiny")


def test_profiles_merge_over_the_base():
    quick, full, default = load_config(profile="quick"), load_config(profile="full"), load_config()
    assert quick.services.model_profile == "tiny" and quick.plan.min_arm_s < default.plan.min_arm_s
    assert quick.plan.frameworks == default.plan.frameworks  # untouched keys come from the base
    assert full.plan.min_arm_s > default.plan.min_arm_s and full.services.model_profile == "full"
    assert full.plan.ai_lead_s > default.plan.ai_lead_s


def test_deep_merge_keeps_siblings_and_does_not_mutate():
    base = {"a": {"x": 1, "y": 2}, "b": 3}
    merged = deep_merge(base, {"a": {"y": 5}})
    assert merged == {"a": {"x": 1, "y": 5}, "b": 3}
    assert base["a"]["y"] == 2


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("plan", "frameworks", ["flask", "rails"], "unknown rails"),
        ("plan", "modes", [], "must not be empty"),
        ("plan", "crud_samples", 0, "greater than or equal to 1"),
        ("plan", "crud_samples", 2.5, "valid integer"),
        ("plan", "min_arm_s", "long", "valid number"),
        ("plan", "crud_fraction", 1.5, "less than or equal to 1"),
        ("slo", "crud_p99_ms", 0, "greater than 0"),
        ("judgement", "latency_ratio", 0.9, "greater than or equal to 1"),
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


def test_missing_section_and_unknown_profile(tmp_path):
    raw = raw_default()
    del raw["services"]
    with pytest.raises(ConfigError, match=r"missing section \[services\]"):
        parse_config(raw)
    with pytest.raises(ConfigError, match="no \\[profiles.huge\\]"):
        parse_config(raw_default(), profile="huge")
    bad = tmp_path / "bad.toml"
    bad.write_text("[plan\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize(("key", "value"), [("web_workers", 65), ("num_beams", 9), ("inference_timeout_s", 0)])
def test_service_settings_are_bounded_by_the_apis_own_settings(key, value):
    raw = raw_default()
    raw["services"][key] = value
    with pytest.raises(ConfigError, match=rf"\[services\] {key}"):
        parse_config(raw)


def test_an_arm_cannot_be_capped_below_its_minimum():
    raw = raw_default()
    raw["plan"]["max_arm_s"] = raw["plan"]["min_arm_s"] - 1
    with pytest.raises(ConfigError, match="max_arm_s .* is shorter than min_arm_s"):
        parse_config(raw)
