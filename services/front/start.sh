#!/usr/bin/env bash
# Run the buffering front of one API (nginx, in the foreground) from nginx.conf.template beside this script.
# No root needed: every file nginx writes (pid, temp bodies) lives in FRONT_RUN_DIR. Stop it with SIGTERM (or
# SIGQUIT to let answers in flight finish).
#
#   PORT=9001 services/api-flask/start.sh &                              # the API, off its usual port
#   FRONT_PORT=8001 API_ADDR=127.0.0.1:9001 services/front/start.sh &    # the front where the API used to be
#
# Environment (defaults in brackets):
#   FRONT_PORT              where the front listens (required)
#   API_ADDR                host:port of the API behind it (required)
#   FRONT_HOST              bind address [127.0.0.1]; 0.0.0.0 only inside a container network
#   FRONT_RESOLVER          DNS server for a host name in API_ADDR [none: API_ADDR is an IP address]; compose
#                           sets Docker's, 127.0.0.11
#   MAX_BODY_BYTES          the API's body limit, the same variable the API reads [1048576]
#   FRONT_CLIENT_TIMEOUT_S  longest pause between two reads of a client's headers or body, then 408 [15]
#   FRONT_READ_TIMEOUT_S    longest wait for the API's answer, longer than gunicorn's worker timeout [180]
#   FRONT_RUN_DIR           pid, rendered config and temp files [a fresh temporary directory, removed at exit]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

: "${FRONT_PORT:?set FRONT_PORT, the port the front listens on}"
: "${API_ADDR:?set API_ADDR, host:port of the API behind the front}"
FRONT_HOST="${FRONT_HOST:-127.0.0.1}"
MAX_BODY_BYTES="${MAX_BODY_BYTES:-1048576}"
FRONT_CLIENT_TIMEOUT_S="${FRONT_CLIENT_TIMEOUT_S:-15}"
FRONT_READ_TIMEOUT_S="${FRONT_READ_TIMEOUT_S:-180}"
for number in FRONT_PORT MAX_BODY_BYTES FRONT_CLIENT_TIMEOUT_S FRONT_READ_TIMEOUT_S; do
    [[ "${!number}" =~ ^[0-9]+$ ]] || { echo "front: $number must be a whole number, not '${!number}'" >&2; exit 2; }
done
[[ "$API_ADDR" =~ ^[A-Za-z0-9._-]+:[0-9]+$ ]] || { echo "front: API_ADDR must be host:port, not '$API_ADDR'" >&2; exit 2; }
FRONT_RESOLVER="${FRONT_RESOLVER:-}"
if [ -z "$FRONT_RESOLVER" ] && ! [[ "$API_ADDR" =~ ^[0-9.]+:[0-9]+$ ]]; then
    echo "front: API_ADDR=$API_ADDR names a host: give its IP address (127.0.0.1:PORT) or FRONT_RESOLVER" >&2
    exit 2
fi

NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
[ -x "$NGINX" ] || { echo "front: nginx not found: apt-get install nginx-light (scripts/setup.sh does it as root)" >&2; exit 127; }

if [ -z "${FRONT_RUN_DIR:-}" ]; then
    FRONT_RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/blog-front-$FRONT_PORT.XXXXXX")"
    trap 'rm -rf "$FRONT_RUN_DIR"' EXIT
fi
mkdir -p "$FRONT_RUN_DIR"

# Only these names are filled in; nginx's own variables ($http_host...) are left alone.
no_resolver='/\${FRONT_RESOLVER}/d'
[ -z "$FRONT_RESOLVER" ] || no_resolver=""
sed -e "$no_resolver" -e "s|\${FRONT_RESOLVER}|$FRONT_RESOLVER|g" -e "s|\${FRONT_RUN_DIR}|$FRONT_RUN_DIR|g" -e "s|\${FRONT_HOST}|$FRONT_HOST|g" -e "s|\${FRONT_PORT}|$FRONT_PORT|g" \
    -e "s|\${API_ADDR}|$API_ADDR|g" -e "s|\${MAX_BODY_BYTES}|$MAX_BODY_BYTES|g" \
    -e "s|\${FRONT_CLIENT_TIMEOUT_S}|$FRONT_CLIENT_TIMEOUT_S|g" -e "s|\${FRONT_READ_TIMEOUT_S}|$FRONT_READ_TIMEOUT_S|g" \
    "$here/nginx.conf.template" >"$FRONT_RUN_DIR/nginx.conf"
echo "front: nginx on $FRONT_HOST:$FRONT_PORT -> $API_ADDR (config $FRONT_RUN_DIR/nginx.conf)"
# Not exec: the trap above removes the temporary run directory once nginx has stopped; signals reach nginx too.
"$NGINX" -p "$FRONT_RUN_DIR" -c "$FRONT_RUN_DIR/nginx.conf" -e stderr -g 'daemon off;' &
nginx_pid=$!
trap 'kill -TERM "$nginx_pid" 2>/dev/null' TERM INT
trap 'kill -QUIT "$nginx_pid" 2>/dev/null' QUIT
wait "$nginx_pid" || wait "$nginx_pid"
