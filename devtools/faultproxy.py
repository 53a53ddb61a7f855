"""A small HTTP proxy in front of anvil that injects the failures real RPC providers show.

Tests queue faults (`proxy.fail_next(n, kind)`), set a getLogs block-range limit, or make it
hang (`proxy.hang()`: a node that takes every request and never answers, until `clear()`);
every other request is forwarded to anvil untouched (`requests` counts what arrived). It also
lies, as a load-balanced provider does: it rewrites the content of getLogs answers
(`proxy.lie_next(n, kind)`, see LIES), or plays a node that lags behind the head
(`proxy.lag(H)`) while headers come from anvil.
"""

import json
import threading
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("refuse", "http500", "http429", "http503", "garbage", "timeout")
# Each applies to the next getLogs answer over a block range that has logs (not to queries
# by blockHash, which are what the sync confirms a suspicion with):
# - drop_logs: the answer is [];
# - drop_log: one log left out, one that is the only log of its event in its block (a
#   dropped log beside another of the same event in the same block shows in no bloom);
# - rewrite_hash: one log's blockHash is another fork's;
# - removed: one log is flagged `removed: true`;
# - foreign_address: one log comes from another address;
# - wrong_block: one log claims a block after the requested range.
LIES = ("drop_logs", "drop_log", "rewrite_hash", "removed", "foreign_address", "wrong_block")
FORK_HASH = "0x" + "f0" * 32


class FaultProxy:
    def __init__(self, upstream: str):
        self.upstream = upstream
        self.faults: deque[str] = deque()
        self.max_log_range: int | None = None
        self.answers: dict[str, object] = {}  # method -> result served instead of anvil's
        self.delay = 0.0  # seconds added to every forwarded request (a slow provider)
        self.limit_errors = 0
        self.lies: deque[str] = deque()
        self.lies_told = 0
        # a node that has blocks up to here only: getLogs over a range answers only the logs
        # of its blocks, getLogs by the hash of a later block is an error (as geth answers)
        self.lag_above: int | None = None
        self.lag_answers: int | None = None  # range answers it lags for (None: for good)
        # every header's logsBloom replaced: "full" (all bits set, as dense as a bloom can
        # be: a false positive for every block) or "empty" (rules out every log)
        self.bloom: str | None = None
        # answer eth_getHeaderByNumber (as geth, erigon and reth do; anvil does not), from
        # anvil's eth_getBlockByNumber without the transactions
        self.serve_headers = False
        self.header_calls = 0
        # batches of getLogs calls larger than this get one error object for the whole batch
        self.max_getlogs_batch: int | None = None
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

    def answer(self, method: str, result) -> None:
        """Answer every single (not batched) call of `method` with `result`: a provider that
        lags behind the chain or serves another fork for that method."""
        self.answers[method] = result

    def lie_next(self, count: int, kind: str) -> None:
        assert kind in LIES
        with self.lock:
            self.lies.extend([kind] * count)

    def lie_always(self, kind: str) -> None:
        self.lie_next(10_000, kind)

    def lag(self, height: int, *, answers: int | None = None) -> None:
        """Answer getLogs as a node whose head is `height`, for `answers` getLogs answers over
        a range (then it has caught up), or for good."""
        self.lag_above, self.lag_answers = height, answers

    def hang(self) -> None:
        """From now on every request is read and then held without an answer."""
        with self.lock:
            self._released.clear()
            self._hanging = True

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.lies.clear()
            self._hanging = False
            self._released.set()  # held requests: their connections are closed unanswered
        self.lag_above = self.lag_answers = self.bloom = self.max_getlogs_batch = None
        self.serve_headers = False
        self.answers.clear()
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
        canned = self._canned(body)
        if canned is not None:
            return self._reply(handler, 200, canned)
        if self.max_getlogs_batch is not None:
            payload = json.loads(body)
            if (
                isinstance(payload, list)
                and len(payload) > self.max_getlogs_batch
                and payload[0].get("method") == "eth_getLogs"
            ):
                error = {"code": -32600, "message": "batch too large"}
                return self._reply(
                    handler,
                    200,
                    json.dumps({"jsonrpc": "2.0", "id": None, "error": error}).encode(),
                )
        limited = self._range_limit_error(body)
        if limited is not None:
            return self._reply(handler, 200, limited)
        asked_headers = self.serve_headers and b"eth_getHeaderByNumber" in body
        if asked_headers:
            body = self._headers_as_blocks(body)
        request = urllib.request.Request(
            self.upstream, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            status, answer = response.status, response.read()
        if asked_headers:
            answer = self._blocks_as_headers(answer)
        if self.lies or self.lag_above is not None or self.bloom is not None:
            answer = self._rewrite(body, answer)
        self._reply(handler, status, answer)

    def _headers_as_blocks(self, body: bytes) -> bytes:
        request = json.loads(body)
        for item in request if isinstance(request, list) else [request]:
            if item.get("method") == "eth_getHeaderByNumber":
                self.header_calls += 1
                item["method"], item["params"] = "eth_getBlockByNumber", [item["params"][0], False]
        return json.dumps(request).encode()

    @staticmethod
    def _blocks_as_headers(answer: bytes) -> bytes:
        reply = json.loads(answer)
        for item in reply if isinstance(reply, list) else [reply]:
            if isinstance(item.get("result"), dict):
                item["result"].pop("transactions", None)
                item["result"].pop("uncles", None)
        return json.dumps(reply).encode()

    # -- lies ---------------------------------------------------------------------------------

    def _rewrite(self, body: bytes, answer: bytes) -> bytes:
        """The answer with the queued lie (or the lag) applied to its getLogs items."""
        request, reply = json.loads(body), json.loads(answer)
        batch = isinstance(request, list)
        by_id = {item["id"]: item for item in (reply if batch else [reply])}
        for item in request if batch else [request]:
            answer_item = by_id.get(item.get("id"))
            if not answer_item:
                continue
            if item.get("method") == "eth_getBlockByNumber" and self.bloom is not None:
                if isinstance(answer_item.get("result"), dict):
                    bits = "f" if self.bloom == "full" else "0"
                    answer_item["result"]["logsBloom"] = "0x" + bits * 512
                continue
            if item.get("method") != "eth_getLogs":
                continue
            if not isinstance(answer_item.get("result"), list):
                continue
            query = item["params"][0]
            if self.lag_above is not None:
                self._lag(query, answer_item)
            if "blockHash" not in query and answer_item.get("result"):
                with self.lock:
                    lie = self.lies.popleft() if self.lies else None
                if lie is not None:
                    self.lies_told += 1
                    answer_item["result"] = self._lie(lie, query, answer_item["result"])
        return json.dumps(reply).encode()

    def _lag(self, query: dict, answer_item: dict) -> None:
        logs = answer_item["result"]
        if "blockHash" in query:
            if logs and int(logs[0]["blockNumber"], 16) > self.lag_above:
                del answer_item["result"]
                answer_item["error"] = {"code": -32000, "message": "unknown block"}
            return
        answer_item["result"] = [
            log for log in logs if int(log["blockNumber"], 16) <= self.lag_above
        ]
        with self.lock:  # count the answers for blocks it lacks
            if self.lag_answers is not None and int(query["toBlock"], 16) > self.lag_above:
                self.lag_answers -= 1
                if self.lag_answers <= 0:
                    self.lag_above = self.lag_answers = None

    @staticmethod
    def _lie(kind: str, query: dict, logs: list[dict]) -> list[dict]:
        if kind == "drop_logs":
            return []
        if kind == "drop_log":
            kinds = {}
            for log in logs:
                key = (log["blockNumber"], log["topics"][0])
                kinds[key] = kinds.get(key, 0) + 1
            alone = [
                i for i, log in enumerate(logs) if kinds[log["blockNumber"], log["topics"][0]] == 1
            ]
            index = alone[-1] if alone else len(logs) - 1
            return logs[:index] + logs[index + 1 :]
        log = dict(logs[-1])
        if kind == "rewrite_hash":
            log["blockHash"] = FORK_HASH
        elif kind == "removed":
            log["removed"] = True
        elif kind == "foreign_address":
            log["address"] = "0x" + "ab" * 20
        elif kind == "wrong_block":
            log["blockNumber"] = hex(int(query["toBlock"], 16) + 1)
        return [*logs[:-1], log]

    def _canned(self, body: bytes) -> bytes | None:
        if not self.answers:
            return None
        payload = json.loads(body)
        if isinstance(payload, list) or payload.get("method") not in self.answers:
            return None
        result = self.answers[payload["method"]]
        return json.dumps({"jsonrpc": "2.0", "id": payload["id"], "result": result}).encode()

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
