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
install_failed() {
  # pip's own error names the package; what a newcomer offline needs is where else pip can look.
  echo "scripts/setup.sh: pip could not install the requirements (above). Without network, point pip at a local" >&2
  echo "  index or wheel folder: PIP_INDEX_URL=file:///path/to/simple, or PIP_NO_INDEX=1 PIP_FIND_LINKS=/path/to/wheels;" >&2
  echo "  torch's CPU wheel index: TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu (or a local mirror of it)." >&2
  exit 1
}
# torch is pinned to 2.13.0 in requirements/ml.txt; the CPU wheel index is only consulted when a user asks for it
"$VENV/bin/pip" install --quiet --disable-pip-version-check ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} \
  -r requirements/dev.txt || install_failed
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -e services/blogcore || install_failed

# nginx is the buffering front of the APIs (services/front) and its tests need it; Debian's package, installed
# when this runs as root with apt-get (CI), named otherwise.
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing nginx-light with apt-get (the buffering front of the APIs, services/front)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
    # Debian starts its own site on port 80 where systemd runs; the front starts one nginx per API instead.
    if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
      echo "==> stopping and disabling the system nginx service Debian started on port 80 (not used here)"
      systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
  else
    echo "==> nginx is missing: the front (services/front) and its tests need it: sudo apt-get install nginx-light" >&2
  fi
fi
echo "==> environment ready: $VENV"
