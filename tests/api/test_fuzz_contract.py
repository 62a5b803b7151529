"""The contract is exactly what openapi.yaml says: schemathesis fuzzes each real API from the document, every check on.

Its settings (seeded, deterministic, examples per operation, the one status it may tolerate) are in
schemathesis.toml beside this file. A failure prints schemathesis' own report, with a curl line per failing case.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from api.openapi_check import spec
from api.test_contract_inprocess import TINY_INPROCESS_ENV
from blogcore.contract import OPENAPI_PATH
from servers import FRAMEWORKS, running_api

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
MODES = {
    "off": ({"INFERENCE_MODE": "off"}, {}),
    "inprocess": (TINY_INPROCESS_ENV, {"threads": 2, "ready_path": "/ready", "timeout_s": 180}),
}
INPROCESS_MISSING = importlib.util.find_spec("blogcore.ai.inprocess") is None


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_schemathesis_finds_no_failure(framework: str, mode: str, tmp_path: Path) -> None:
    if mode == "inprocess" and INPROCESS_MISSING:
        pytest.skip("the in-process backend is not there yet")
    env, options = MODES[mode]
    with running_api(framework, env, tmp_path / "server", **options) as server:  # type: ignore[arg-type]
        result = subprocess.run(
            [
                str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", str(OPENAPI_PATH),
                "--url", server.base_url, "--checks", "all", "--no-color",
            ],
            cwd=tmp_path,  # schemathesis may write reports into its working directory; never into the checkout
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-20_000:]
        # It really ran every phase against every operation, rather than passing because nothing was tested.
        operations = sum(method in ("get", "put", "post", "delete") for item in spec()["paths"].values() for method in item)
        assert f"Tested: {operations}" in output and "No issues found" in output, output[-5_000:]
        assert server.worker_pids() == server.initial_worker_pids, server.log()[-4_000:]
        assert "Traceback" not in server.log(), server.log()[-4_000:]
