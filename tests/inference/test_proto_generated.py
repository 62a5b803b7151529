"""The committed gRPC code must be what scripts/gen_proto.sh makes of proto/inference.proto today."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GENERATED = ("inference_pb2.py", "inference_pb2.pyi", "inference_pb2_grpc.py")


def test_generated_code_is_fresh(tmp_path):
    pytest.importorskip("grpc_tools")
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "gen_proto.sh"), str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    committed = REPO / "services" / "blogcore" / "blogcore" / "grpc_gen"
    stale = [
        name
        for name in GENERATED
        if (tmp_path / "blogcore" / "grpc_gen" / name).read_bytes() != (committed / name).read_bytes()
    ]
    assert not stale, f"{stale} are stale: run scripts/gen_proto.sh and commit the result"


def test_generated_code_is_marked_and_importable():
    committed = REPO / "services" / "blogcore" / "blogcore" / "grpc_gen"
    for name in ("inference_pb2.py", "inference_pb2_grpc.py"):
        assert "DO NOT EDIT" in (committed / name).read_text()[:200]
    from blogcore.grpc_gen import inference_pb2, inference_pb2_grpc

    service = inference_pb2.DESCRIPTOR.services_by_name["Inference"]
    assert {m.name for m in service.methods} == {"Summarize", "Sentiment", "Title", "Tags", "GetModelInfo"}
    assert hasattr(inference_pb2_grpc, "InferenceStub")
