#!/usr/bin/env bash
# Create (or update) the project's virtual environment with everything needed to run, test and benchmark natively.
# Idempotent: a second run only checks that requirements are satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
echo "==> installing requirements into $VENV"
# torch is pinned to 2.13.0 in requirements/ml.txt; the CPU wheel index is only consulted when a user asks for it
"$VENV/bin/pip" install --quiet --disable-pip-version-check ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} \
  -r requirements/dev.txt
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -e services/blogcore
echo "==> environment ready: $VENV"
