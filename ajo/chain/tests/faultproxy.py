"""A small HTTP proxy in front of anvil that injects the failures real RPC providers show.

Tests queue faults (`proxy.fail_next(n, kind)`), set a getLogs block-range limit, or make it
hang (`proxy.hang()`: a node that takes every request and never answers, until `clear()`);
every other request is forwarded to anvil untouched. `requests` counts what arrived.
"""

import json
import threading
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("refuse", "http500", "http429", "http503", "garbage", "timeout")


class FaultProxy:
    def __init__(self, upstream: str):
        self.upstream = upstream
        self.faults: deque[str] = deque()
        self.max_log_range: int | None = None
        self.delay = 0.0  # seconds added to every forwarded request (a slow provider)
        self.limit_errors = 0
        self.requests = 0
        self.log_ranges: list[int] = []
        self.lock = threading.Lock()
        self._hanging = False
        self._released = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def fail_next(self, count: int, kind: str) -> None:
        assert kind in FAULTS
        with self.lock:
            self.faults.extend([kind] * count)

    def fail_always(self, kind: str) -> None:
        self.fail_next(10_000, kind)

    def hang(self) -> None:
        """From now on every request is read and then held without an answer."""
        with self.lock:
            self._released.clear()
            self._hanging = True

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self._hanging = False
            self._released.set()  # held requests: their connections are closed unanswered
        self.max_log_range = None
        self.delay = 0.0

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()

    # -- request handling ---------------------------------------------------------------------

    def handle(self, handler, body: bytes) -> None:
        with self.lock:
            self.requests += 1
            fault = self.faults.popleft() if self.faults else None
            hanging = self._hanging
        if hanging:
            self._released.wait()
            handler.close_connection = True
            handler.connection.close()
            return
        if fault == "refuse":
            handler.close_connection = True
            handler.connection.close()
            return
        if fault == "timeout":
            threading.Event().wait(3)
            handler.close_connection = True
            handler.connection.close()
            return
        if fault in ("http500", "http429", "http503"):
            return self._reply(handler, int(fault[4:]), b'{"error": "upstream trouble"}')
        if fault == "garbage":
            return self._reply(handler, 200, b"<html>bad gateway</html>")
        if self.delay:
            threading.Event().wait(self.delay)
        limited = self._range_limit_error(body)
        if limited is not None:
            return self._reply(handler, 200, limited)
        request = urllib.request.Request(
            self.upstream, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            self._reply(handler, response.status, response.read())

    def _range_limit_error(self, body: bytes) -> bytes | None:
        if self.max_log_range is None:
            return None
        payload = json.loads(body)
        items = payload if isinstance(payload, list) else [payload]
        for item in items:
            if item.get("method") != "eth_getLogs":
                continue
            query = item["params"][0]
            size = int(query["toBlock"], 16) - int(query["fromBlock"], 16) + 1
            self.log_ranges.append(size)
            if size > self.max_log_range:
                self.limit_errors += 1
                error = {
                    "jsonrpc": "2.0",
                    "id": item["id"],
                    "error": {
                        "code": -32005,
                        "message": f"query returned more than 10000 results; "
                        f"block range is limited to {self.max_log_range}",
                    },
                }
                return json.dumps(error if not isinstance(payload, list) else [error]).encode()
        return None

    @staticmethod
    def _reply(handler, status: int, payload: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
