#!/usr/bin/env bash
# The test command: prepare the virtual environment, then run every test offline (unit tests, the contract suite
# against real servers for the three frameworks in off, inprocess and remote mode, the inference service, the
# benchmark code and the static checks of the stack). Extra arguments go to pytest, e.g. scripts/test.sh -k flask
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
VENV="$VENV" scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# The tools the venv ships (k6, hadolint, gunicorn) are found as on an activated venv.
case "$VENV" in /*) venv_bin="$VENV/bin" ;; *) venv_bin="$PWD/$VENV/bin" ;; esac
export PATH="$venv_bin:$PATH"
exec "$VENV/bin/python" -m pytest "$@"
