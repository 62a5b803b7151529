#!/usr/bin/env bash
# Container health of the front: GET /health through it must answer 200, so the front and its API are both up.
# bash's /dev/tcp: the image carries no HTTP client.
set -euo pipefail
exec 3<>"/dev/tcp/127.0.0.1/${FRONT_PORT:?}"
printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
read -r -t 4 _ status _ <&3
[ "$status" = 200 ] || { echo "unhealthy: GET /health through the front answered '${status:-nothing}'" >&2; exit 1; }
