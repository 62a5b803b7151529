#!/usr/bin/env bash
# Builds every image of the stack in dependency order: the shared base layers (docker/base.Dockerfile), then
# each service image on top of them (through docker compose, so its build settings are the only ones).
#
# Environment:
#   PYTHON_IMAGE     base Python image               (default python:3.11-slim)
#   DEBIAN_IMAGE     base of the nginx front         (default debian:bookworm-slim)
#   TORCH_INDEX_URL  where pip gets the CPU torch    (default https://download.pytorch.org/whl/cpu);
#                    empty: only from docker/wheels/ (set TORCH_WHEEL to a local wheel to copy it there)
#   TORCH_WHEEL      a local torch wheel to build from (implies TORCH_INDEX_URL=)
#   STACK_IMAGE_PREFIX, STACK_TAG   image names: $STACK_IMAGE_PREFIX/<service>:$STACK_TAG (default blog/…:local)
#   BUILD_LOG        where the full build output goes (default: a temporary file, kept and named on failure)
#
# A failure always ends with the last lines of the build, the likely cause and its fix (offline: stand-in base
# images and a local torch wheel, see docs/stack.md "Without a registry").
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON_IMAGE="${PYTHON_IMAGE:-python:3.11-slim}"
DEBIAN_IMAGE="${DEBIAN_IMAGE:-debian:bookworm-slim}"
TORCH_INDEX_URL="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"
STACK_IMAGE_PREFIX="${STACK_IMAGE_PREFIX:-blog}"
STACK_TAG="${STACK_TAG:-local}"
export STACK_IMAGE_PREFIX STACK_TAG DEBIAN_IMAGE

log() { printf '[build %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

if [ -z "${BUILD_LOG:-}" ]; then
    BUILD_LOG="$(mktemp /tmp/blog-build.XXXXXX.log)"
    trap 'rm -f "$BUILD_LOG"' EXIT  # kept (trap cleared) when a step fails, so its path can be given
fi
: >"$BUILD_LOG"

OFFLINE_FIX="offline (no registry, PyPI or download.pytorch.org)? Build stand-in base images from Debian and torch from a
local wheel, then start the stack with the stand-in Prometheus:
    sudo scripts/docker/standin_images.sh
    PYTHON_IMAGE=blog-standin/python:3.11-slim DEBIAN_IMAGE=blog-standin/debian:bookworm \\
        TORCH_WHEEL=/path/to/torch-2.13.0+cpu-cp311-*.whl scripts/docker/build_images.sh
    PROMETHEUS_IMAGE=blog-standin/prometheus:latest MODEL_SOURCE=synthetic HF_HUB_OFFLINE=1 docker compose up -d --wait
(the recipe scripts/stack_test.sh runs; docs/stack.md, \"Without a registry\")"

# Why a build step failed, named from its output, with what to do about it.
explain_failure() {
    local what="$1"
    trap - EXIT
    {
        echo
        echo "---- last lines of the build output (all of it: $BUILD_LOG) ----"
        tail -n 30 "$BUILD_LOG"
        echo "----"
        if grep -qiE 'failed to resolve source metadata|pull access denied|error pulling image|manifest unknown|failed to authorize|registry-1\.docker\.io|auth\.docker\.io' "$BUILD_LOG"; then
            echo "ERROR: $what: a base image ($PYTHON_IMAGE or $DEBIAN_IMAGE) cannot be pulled from its registry."
            echo "$OFFLINE_FIX"
        elif grep -qiE 'Could not find a version|No matching distribution|Failed to establish a new connection|Temporary failure in name resolution|Network is unreachable|Connection refused|Read timed out|ProxyError' "$BUILD_LOG"; then
            echo "ERROR: $what: pip could not reach its package index (PyPI or ${TORCH_INDEX_URL:-docker/wheels/})."
            echo "$OFFLINE_FIX"
        else
            echo "ERROR: $what failed; the cause is in the lines above (full log: $BUILD_LOG)."
            echo "If this machine is $OFFLINE_FIX"
        fi
    } >&2
    exit 1
}

if ! command -v docker >/dev/null 2>&1; then
    echo "ERROR: no docker command: install Docker Engine 20.10+ with the Compose v2 plugin (docs/stack.md)." >&2
    exit 1
fi
if ! docker info >"$BUILD_LOG" 2>&1; then
    tail -n 5 "$BUILD_LOG" >&2
    echo "ERROR: no Docker engine answers: start it (sudo systemctl start docker, or dockerd) or run as a user in the docker group." >&2
    exit 1
fi
if ! docker compose version >/dev/null 2>&1; then
    echo "ERROR: the Docker Compose v2 plugin is missing (docker compose): install docker-compose-plugin (docs/stack.md)." >&2
    exit 1
fi

if [ -n "${TORCH_WHEEL:-}" ]; then
    [ -f "$TORCH_WHEEL" ] || { echo "TORCH_WHEEL=$TORCH_WHEEL is not a file" >&2; exit 1; }
    target="docker/wheels/$(basename "$TORCH_WHEEL")"
    # A hard link costs nothing and keeps the build context's copy identical to the source.
    [ -f "$target" ] || ln "$TORCH_WHEEL" "$target" 2>/dev/null || cp "$TORCH_WHEEL" "$target"
    TORCH_INDEX_URL=""
fi

build_base() {
    local target="$1"
    log "base image $STACK_IMAGE_PREFIX/$target:$STACK_TAG (from $PYTHON_IMAGE, torch from ${TORCH_INDEX_URL:-docker/wheels/})"
    docker build --progress=plain -f docker/base.Dockerfile --target "$target" \
        --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" --build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL" \
        -t "$STACK_IMAGE_PREFIX/$target:$STACK_TAG" . >>"$BUILD_LOG" 2>&1 \
        || explain_failure "building the base image $STACK_IMAGE_PREFIX/$target:$STACK_TAG"
}
build_base ml-base

# The service images only add small layers, so building them one at a time costs little and spares the CPU.
# Every service directory with a manifest (bench/catalog.py reads the same ones); its compose service has its name.
# front-flask builds the one front image of all three APIs (nginx from Debian on $DEBIAN_IMAGE).
for service in $(for manifest in services/*/service.toml; do basename "$(dirname "$manifest")"; done) front-flask; do
    log "service image $STACK_IMAGE_PREFIX/${service/#front-flask/front}:$STACK_TAG"
    # Building reads no secret, but compose validates the whole file first: placeholders satisfy it here only.
    DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-build-only}" GF_ADMIN_PASSWORD="${GF_ADMIN_PASSWORD:-build-only}" \
        docker compose build "$service" >>"$BUILD_LOG" 2>&1 \
        || explain_failure "building the service image $STACK_IMAGE_PREFIX/$service:$STACK_TAG"
done
# A rebuilt base leaves its predecessor (about 2 GB) untagged; drop only such leftovers of this stack.
docker image prune -f --filter label=org.blog-ai.stack=1 >/dev/null
log "images ready"
