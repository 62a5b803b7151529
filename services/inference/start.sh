#!/usr/bin/env bash
# Start the gRPC inference service. Settings come from the environment (see inference_service/settings.py):
# HOST, GRPC_PORT, METRICS_PORT, BATCH_MAX_SIZE, BATCH_MAX_DELAY_MS, BATCH_QUEUE_SIZE, BATCH_PER_TASK,
# SHUTDOWN_GRACE_S and the model settings the APIs share (MODEL_SOURCE, MODEL_PROFILE, TORCH_THREADS, ...).
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python}" -m inference_service "$@"
