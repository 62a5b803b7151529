"""scripts/docker/build_images.sh fails loudly: the cause and the fix, never a bare exit 1 (a fake docker on PATH)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OFFLINE_PULL = ("ERROR: failed to solve: python:3.11-slim: failed to resolve source metadata for "
                "docker.io/library/python:3.11-slim: dial tcp: lookup registry-1.docker.io: no such host")
OFFLINE_PIP = "ERROR: Could not find a version that satisfies the requirement torch==2.13.0 (from versions: none)"


def fake_docker(tmp_path: Path, *, engine: bool = True, build_output: str = "") -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(f"""#!/bin/sh
case "$1" in
  info) {'echo "Server Version: 27"; exit 0' if engine else 'echo "Cannot connect to the Docker daemon" >&2; exit 1'} ;;
  compose) [ "$2" = version ] && {{ echo "Docker Compose version v2.30"; exit 0; }} ;;
esac
echo '{build_output}'
exit 1
""")
    script.chmod(0o755)
    return bin_dir


def build(bin_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    env.pop("BUILD_LOG", None)
    return subprocess.run([str(REPO / "scripts/docker/build_images.sh")], env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(("output", "cause"), [(OFFLINE_PULL, "cannot be pulled"), (OFFLINE_PIP, "package index")])
def test_offline_build_names_the_cause_and_the_offline_recipe(tmp_path: Path, output: str, cause: str) -> None:
    result = build(fake_docker(tmp_path, build_output=output))
    assert result.returncode == 1
    assert cause in result.stderr and output in result.stderr  # the build's own last lines are shown too
    for fix in ("scripts/docker/standin_images.sh", "PYTHON_IMAGE=blog-standin/python:3.11-slim", "TORCH_WHEEL=",
                "PROMETHEUS_IMAGE=blog-standin/prometheus:latest", "docs/stack.md"):
        assert fix in result.stderr, fix
    kept = [word for word in result.stderr.split() if word.startswith("/tmp/blog-build.")]
    assert kept and Path(kept[0].rstrip(")")).exists(), "the full log must be kept and named"
    Path(kept[0].rstrip(")")).unlink()


def test_no_engine_says_so(tmp_path: Path) -> None:
    result = build(fake_docker(tmp_path, engine=False))
    assert result.returncode == 1 and "no Docker engine answers" in result.stderr
