"""The README is what a new user reads first: what it states about the code must stay true."""

import json
import re
import sys
from pathlib import Path

from blogcore.ai.tagger_report import BEGIN, END, figures_block, readme_block
from blogcore.settings import APISettings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_tagger_figures_are_generated_from_the_shipped_artifact():
    metrics = json.loads((ROOT / "services/blogcore/blogcore/artifacts/tagger/metrics.json").read_text())
    assert BEGIN in README and END in README, "the README has no tagger figures block"
    assert readme_block(README) == figures_block(metrics), "run: python -m blogcore.ai.tagger_report README.md"


def test_readme_documents_every_setting():
    sys.path.insert(0, str(ROOT / "services/inference"))
    from inference_service.settings import InferenceSettings

    for settings_class in (APISettings, InferenceSettings):
        for name in settings_class.model_fields:
            assert f"`{name.upper()}`" in README, f"{name.upper()} is missing from the README's variable tables"


def test_readme_commands_exist():
    for script in re.findall(r"^(scripts/[\w/.-]+\.sh)", README, re.M):
        assert (ROOT / script).is_file(), script
    assert "scripts/test.sh" in (ROOT / ".ci/run").read_text()
