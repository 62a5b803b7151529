"""Container health probe: an HTTP GET that must answer 2xx, or a grpc.health.v1 check that must say SERVING."""

import os
import sys
import urllib.request

TIMEOUT_S = 4.0


def check_http(url: str) -> bool:
    # A bare path is this container's own service, on the PORT it was started with.
    if url.startswith("/"):
        url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}{url}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return 200 <= response.status < 300
    except OSError as error:
        print(f"unhealthy: {url}: {error}", file=sys.stderr)
        return False


def check_grpc(address: str) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT_S)
        except grpc.RpcError as error:
            print(f"unhealthy: {address}: {error.code().name}", file=sys.stderr)
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("http", "grpc"):
        print("usage: healthcheck.py http URL|/PATH | grpc HOST:PORT", file=sys.stderr)
        return 2
    healthy = check_http(argv[2]) if argv[1] == "http" else check_grpc(argv[2])
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
