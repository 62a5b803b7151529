#!/usr/bin/env bash
# The benchmark in one command: prepare the virtual environment if needed, run the default matrix (synthetic
# tiny models, about 15 minutes on 2 cores) and write results/<run-id>/result.json and reports/<run-id>/report.md.
#   scripts/benchmark.sh            default run
#   scripts/benchmark.sh --quick    smoke run, about 3 minutes
#   scripts/benchmark.sh --full     long windows, every scenario, full-size models (for bigger machines)
#   scripts/benchmark.sh --config my.toml --out results/
# VENV picks the virtual environment (default .venv); scripts/setup.sh creates it from requirements/dev.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
if ! "$VENV/bin/python" -c "import blogcore, bench.config, matplotlib, jsonschema, httpx, psutil" 2>/dev/null \
   || [ ! -x "$VENV/bin/k6" ]; then
  echo "==> preparing $VENV (scripts/setup.sh)"
  VENV="$VENV" scripts/setup.sh
fi

# Only loopback is ever loaded, and the models are never fetched during a run unless asked for.
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
exec "$VENV/bin/python" -m bench run "$@"
