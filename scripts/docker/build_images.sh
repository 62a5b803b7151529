#!/usr/bin/env bash
# Builds every image of the stack in dependency order: the shared base layers (docker/base.Dockerfile), then
# each service image on top of them (through docker compose, so its build settings are the only ones).
#
# Environment:
#   PYTHON_IMAGE     base Python image               (default python:3.11-slim)
#   TORCH_INDEX_URL  where pip gets the CPU torch    (default https://download.pytorch.org/whl/cpu);
#                    empty: only from docker/wheels/ (set TORCH_WHEEL to a local wheel to copy it there)
#   TORCH_WHEEL      a local torch wheel to build from (implies TORCH_INDEX_URL=)
#   STACK_IMAGE_PREFIX, STACK_TAG   image names: $STACK_IMAGE_PREFIX/<service>:$STACK_TAG (default blog/…:local)
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON_IMAGE="${PYTHON_IMAGE:-python:3.11-slim}"
TORCH_INDEX_URL="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"
STACK_IMAGE_PREFIX="${STACK_IMAGE_PREFIX:-blog}"
STACK_TAG="${STACK_TAG:-local}"
export STACK_IMAGE_PREFIX STACK_TAG

log() { printf '[build %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

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
        -t "$STACK_IMAGE_PREFIX/$target:$STACK_TAG" . >"${BUILD_LOG:-/dev/null}" 2>&1 \
        || { [ -n "${BUILD_LOG:-}" ] && tail -n 40 "$BUILD_LOG" >&2; exit 1; }
}
build_base ml-base

# The service images only add small layers, so building them one at a time costs little and spares the CPU.
for service in inference api-flask api-fastapi api-django; do
    log "service image $STACK_IMAGE_PREFIX/$service:$STACK_TAG"
    # Building reads no secret, but compose validates the whole file first: placeholders satisfy it here only.
    DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-build-only}" GF_ADMIN_PASSWORD="${GF_ADMIN_PASSWORD:-build-only}" \
        docker compose build "$service" >>"${BUILD_LOG:-/dev/null}" 2>&1 \
        || { [ -n "${BUILD_LOG:-}" ] && tail -n 40 "$BUILD_LOG" >&2; exit 1; }
done
# A rebuilt base leaves its predecessor (about 2 GB) untagged; drop only such leftovers of this stack.
docker image prune -f --filter label=org.blog-ai.stack=1 >/dev/null
log "images ready"
