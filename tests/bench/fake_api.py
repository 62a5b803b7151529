"""A stand-in blog API (stdlib only) speaking the HTTP contract closely enough to test the k6 scripts and runner.

Run as `python fake_api.py PORT [off|on]`; it serves on 127.0.0.1 until killed.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POST_ROUTE = re.compile(r"^/posts/(\d+)$")
AI_ROUTE = re.compile(r"^/ai/(summarize|sentiment|title|tags)$")


class Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.posts: dict[int, dict] = {}
        self.next_id = 1


def make_handler(store: Store, ai_on: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, body: object | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"{}")

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/health":
                return self._send(200, {"status": "ok"})
            if path == "/ready":
                return self._send(200, {"status": "ready", "inference_mode": "inprocess" if ai_on else "off", "detail": {}})
            if path == "/metrics":
                return self._send(200, {})
            if path == "/posts":
                with store.lock:
                    items = sorted(store.posts.values(), key=lambda p: -p["id"])[:20]
                return self._send(200, {"items": items, "page": 1, "page_size": 20, "total": len(store.posts)})
            match = POST_ROUTE.match(path)
            if match:
                post = store.posts.get(int(match.group(1)))
                return self._send(200, post) if post else self._send(404, {"error": {"status": 404}})
            return self._send(404, {"error": {"status": 404}})

        def do_POST(self) -> None:
            body = self._body()
            if self.path == "/posts":
                with store.lock:
                    post = {"id": store.next_id, **body}
                    store.posts[store.next_id] = post
                    store.next_id += 1
                return self._send(201, post)
            match = AI_ROUTE.match(self.path)
            if match:
                if not ai_on:
                    return self._send(503, {"error": {"status": 503, "code": "ai_disabled"}})
                return self._send(200, {"task": match.group(1), "meta": {}})
            return self._send(404, {"error": {"status": 404}})

        def do_PUT(self) -> None:
            match = POST_ROUTE.match(self.path)
            body = self._body()
            if match and int(match.group(1)) in store.posts:
                store.posts[int(match.group(1))].update(body)
                return self._send(200, store.posts[int(match.group(1))])
            return self._send(404, {"error": {"status": 404}})

        def do_DELETE(self) -> None:
            match = POST_ROUTE.match(self.path)
            with store.lock:
                found = match and store.posts.pop(int(match.group(1)), None)
            return self._send(204) if found else self._send(404, {"error": {"status": 404}})

    return Handler


def main() -> None:
    port = int(sys.argv[1])
    ai_on = len(sys.argv) < 3 or sys.argv[2] != "off"
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(Store(), ai_on))
    server.serve_forever()


if __name__ == "__main__":
    main()
