#!/usr/bin/env bash
# Builds local stand-ins for the public base images (python:3.11-slim, prom/prometheus) from a debootstrapped
# Debian root filesystem, for machines that reach Debian's mirror but no container registry (CI here).
# Idempotent: an image that already exists is kept, so a second run costs seconds.
set -euo pipefail

STANDIN_SUITE="${STANDIN_SUITE:-bookworm}"   # bookworm's python3 is 3.11, the Python the local torch wheel needs
STANDIN_CACHE="${STANDIN_CACHE:-/var/cache/blog-stack}"
STANDIN_PREFIX="${STANDIN_PREFIX:-blog-standin}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
here="$(cd "$(dirname "$0")" && pwd)"

log() { printf '[standin %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# The mirror apt already uses: deb822 sources first, then the one-line format.
debian_mirror() {
    local uri
    uri="$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)"
    if [ -z "$uri" ]; then
        uri="$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' | grep -E '/debian/?$' | head -n1 || true)"
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

root_image="${STANDIN_PREFIX}/debian:${STANDIN_SUITE}"
if image_exists "$root_image"; then
    log "$root_image present"
else
    command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install debootstrap" >&2; exit 1; }
    mirror="$(debian_mirror)"
    rootfs="${STANDIN_CACHE}/rootfs-${STANDIN_SUITE}"
    tarball="${STANDIN_CACHE}/rootfs-${STANDIN_SUITE}.tar"
    if [ ! -s "$tarball" ]; then
        log "debootstrap $STANDIN_SUITE from $mirror (a few minutes)"
        rm -rf "$rootfs" && mkdir -p "$rootfs"
        debootstrap --variant=minbase \
            --include=ca-certificates,python3,python3-venv,python3-pip,wget,tini \
            "$STANDIN_SUITE" "$rootfs" "$mirror" >"${STANDIN_CACHE}/debootstrap.log" 2>&1 \
            || { tail -n 30 "${STANDIN_CACHE}/debootstrap.log" >&2; exit 1; }
        # Slim the image the way the official images do.
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
            "$rootfs"/usr/share/man/*
        tar -C "$rootfs" -cf "$tarball.partial" . && mv "$tarball.partial" "$tarball"
        rm -rf "$rootfs"
    fi
    log "docker import $root_image"
    docker import "$tarball" "$root_image" >/dev/null
fi

# pip inside a container reaches PyPI only through this machine's CA bundle.
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$CA_BUNDLE" "$ctx/ca-certificates.crt"
cp "$here/standin-python.Dockerfile" "$here/standin-prometheus.Dockerfile" "$ctx/"

build_standin() {
    local name="$1" dockerfile="$2"
    if image_exists "$name" && [ "${STANDIN_REBUILD:-0}" != 1 ]; then
        log "$name present"
        return
    fi
    log "build $name"
    docker build -q -f "$ctx/$dockerfile" --build-arg "ROOT_IMAGE=$root_image" -t "$name" "$ctx" >/dev/null
}
build_standin "${STANDIN_PREFIX}/python:3.11-slim" standin-python.Dockerfile
build_standin "${STANDIN_PREFIX}/prometheus:latest" standin-prometheus.Dockerfile
# The nginx front builds on the Debian root image itself (DEBIAN_IMAGE=$root_image).
log "stand-ins ready: ${STANDIN_PREFIX}/python:3.11-slim ${STANDIN_PREFIX}/prometheus:latest $root_image"
