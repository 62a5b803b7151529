#!/usr/bin/env bash
# Regenerate the Python gRPC code for proto/inference.proto into services/blogcore/blogcore/grpc_gen.
# Usage: scripts/gen_proto.sh [OUTPUT_ROOT]   (OUTPUT_ROOT defaults to services/blogcore; tests pass a tmp dir)
# The proto is mapped to the import path blogcore/grpc_gen/ so the generated modules import each other
# as blogcore.grpc_gen.* and need no sys.path tricks.
set -euo pipefail
cd "$(dirname "$0")/.."

# grpcio-tools must match the pinned grpcio/protobuf (requirements/dev.txt): use the project's venv by default.
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
OUT=${1:-services/blogcore}
mkdir -p "$OUT/blogcore/grpc_gen"

"$PYTHON" -m grpc_tools.protoc \
  --proto_path=blogcore/grpc_gen=proto \
  --python_out="$OUT" --pyi_out="$OUT" --grpc_python_out="$OUT" \
  blogcore/grpc_gen/inference.proto
echo "generated $OUT/blogcore/grpc_gen/inference_pb2{,_grpc}.py{,i}"
