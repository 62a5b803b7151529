"""What a run records about where it ran: the machine, the commit and the versions of the packages that matter."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

from bench.model import Machine

PACKAGES = ("flask", "fastapi", "django", "gunicorn", "uvicorn", "uvicorn-worker", "torch", "transformers",
            "tokenizers", "grpcio", "protobuf", "pydantic", "sqlalchemy", "prometheus_client", "psutil", "k6")
REPO = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def git_commit() -> tuple[str, bool]:
    """HEAD's commit and whether the working tree had uncommitted changes."""
    status = _git("status", "--porcelain")
    return _git("rev-parse", "HEAD"), bool(status and status != "unknown")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> Machine:
    return Machine(
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count() or 1,
        memory_gib=round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        platform=platform.platform(),
        python=platform.python_version(),
    )


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
