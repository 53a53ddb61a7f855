"""The JSON-RPC client: the only place in ajo that builds JSON-RPC requests.

Transient failures (connection refused/reset, timeouts, HTTP 429/5xx, bodies that are not
JSON-RPC) are retried with exponential backoff and full jitter, then raised as
`RpcUnavailable`. JSON-RPC error objects are raised at once as `RpcError`: whether one is worth
retrying (say, getLogs "too many results") is the caller's decision.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests

# HTTP statuses that mean "try again later"; a JSON-RPC error body under them is still transient.
_RETRY_STATUSES = frozenset({429, 502, 503, 504})


class RpcError(Exception):
    """A JSON-RPC error object returned by the node."""

    def __init__(self, code: int | None, message: str, data: Any = None, *, method: str = ""):
        self.code = code
        self.message = message
        self.data = data
        self.method = method
        text = " ".join(str(message).split())
        prefix = f"{method}: " if method else ""
        super().__init__(f"{prefix}RPC error {code}: {text}")


class RpcUnavailable(Exception):
    """The node could not be reached or gave no usable answer, after retries."""


class _Transient(Exception):
    """One failed attempt that may succeed when tried again."""


def endpoint_label(url: str) -> str:
    """host:port of `url`, never credentials, path or query (which may hold API keys)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"https": 443, "http": 80}.get(parts.scheme)
    return f"{host}:{port}" if port else host


def hex_to_int(value: str | int | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    return int(value, 16)


def _describe(exc: requests.RequestException, timeout: float) -> str:
    """A short one-line reason for a requests failure (its own messages span lines)."""
    if isinstance(exc, requests.ConnectTimeout):
        return f"connect timeout after {timeout:.3g}s"
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:.3g}s"
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "reset" in text.lower():
        return "connection reset"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "host name not found"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return type(exc).__name__


class RpcClient:
    """Keep-alive JSON-RPC over HTTP.

    `timeout` bounds each attempt's connect and each read; `deadline`, when set, bounds one
    call or batch as a whole, retries and backoff included: no attempt or backoff starts after
    it, and an attempt's timeout is cut to the time left. A web request needs that (it must
    answer well inside gunicorn's timeout whatever the node does); the sync leaves it unset
    and keeps retrying for as long as its backoff says.

    `retries` counts attempts that were tried again; `errors` counts failed attempts plus
    JSON-RPC error objects received. Both only grow, for metrics.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_base: float = 0.2,
        backoff_max: float = 5.0,
        deadline: float | None = None,
    ):
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"RPC URL must start with http:// or https://, got {url[:8]!r}…")
        self.url = url
        self.label = endpoint_label(url)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.deadline = deadline
        self.retries = 0
        self.errors = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._session = requests.Session()
        self._session.headers.update({"Content-Type": "application/json"})

    @classmethod
    def from_settings(cls, **kwargs: Any) -> RpcClient:
        from django.conf import settings

        return cls(settings.CHAIN_RPC_URL, **kwargs)

    def __repr__(self) -> str:
        return f"RpcClient({self.label})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests -------------------------------------------------------------------------

    def call(self, method: str, params: list | None = None) -> Any:
        request_id = self._next_id()
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or []}
        reply = self._post(body, what=method)
        if not isinstance(reply, dict):
            raise RpcUnavailable(f"RPC {self.label}: {method} answered with a non-object")
        return self._result(reply, method)

    def batch(self, calls: list[tuple[str, list]], *, return_errors: bool = False) -> list[Any]:
        """Send `calls` in one HTTP request; results come back in the order of `calls`.

        A JSON-RPC error in any item raises its `RpcError` (the first, in call order), unless
        `return_errors` is set: then the `RpcError` takes that item's place in the list.
        """
        if not calls:
            return []
        first = self._next_id(len(calls))
        body = [
            {"jsonrpc": "2.0", "id": first + i, "method": method, "params": params or []}
            for i, (method, params) in enumerate(calls)
        ]
        what = f"batch of {len(calls)} ({calls[0][0]}…)"
        reply = self._post(body, what=what, expect_ids=range(first, first + len(calls)))
        by_id = {item["id"]: item for item in reply}
        results: list[Any] = []
        for i, (method, _params) in enumerate(calls):
            try:
                results.append(self._result(by_id[first + i], method))
            except RpcError as exc:
                if not return_errors:
                    raise
                results.append(exc)
        return results

    # -- helpers ----------------------------------------------------------------------------

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def chain_id(self) -> int:
        return int(self.call("eth_chainId"), 16)

    def get_code(self, address: str, block: str | int = "latest") -> str:
        tag = hex(block) if isinstance(block, int) else block
        return self.call("eth_getCode", [address, tag])

    # -- internals --------------------------------------------------------------------------

    def _next_id(self, count: int = 1) -> int:
        with self._lock:
            first = next(self._ids)
            for _ in range(count - 1):
                next(self._ids)
        return first

    def _result(self, item: dict, method: str) -> Any:
        error = item.get("error")
        if error is not None:
            self.errors += 1
            if isinstance(error, dict):
                raise RpcError(
                    error.get("code"),
                    str(error.get("message", "")),
                    error.get("data"),
                    method=method,
                )
            raise RpcError(None, str(error), method=method)
        return item.get("result")

    def _post(self, body: Any, *, what: str, expect_ids: range | None = None) -> Any:
        payload = json.dumps(body, separators=(",", ":"))
        ends = None if self.deadline is None else time.monotonic() + self.deadline
        attempt = 0
        while True:
            timeout = self.timeout
            if ends is not None:
                timeout = min(timeout, ends - time.monotonic())
            try:
                return self._attempt(payload, expect_ids, timeout)
            except _Transient as exc:
                self.errors += 1
                delay = random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))
                # A retry needs a little time left to be worth starting.
                out_of_time = ends is not None and time.monotonic() + delay + 0.05 >= ends
                if attempt >= self.max_retries or out_of_time:
                    tries = attempt + 1
                    within = f" (deadline {self.deadline:g}s)" if out_of_time else ""
                    raise RpcUnavailable(
                        f"RPC {self.label} unavailable ({what}): {exc}"
                        f" after {tries} attempt{'s' if tries != 1 else ''}{within}"
                    ) from None
                attempt += 1
                self.retries += 1
                time.sleep(delay)

    def _attempt(self, payload: str, expect_ids: range | None, timeout: float) -> Any:
        try:
            response = self._session.post(self.url, data=payload, timeout=timeout)
        except requests.RequestException as exc:
            raise _Transient(_describe(exc, timeout)) from None

        status = response.status_code
        try:
            # orjson: a dense getLogs answer is tens of MB; it parses it ~3x faster than json
            reply = orjson.loads(response.content)
        except ValueError:
            reply = None

        if status in _RETRY_STATUSES or (status >= 500 and not _is_rpc_reply(reply)):
            raise _Transient(f"HTTP {status}")
        if status >= 400 and not _is_rpc_reply(reply):
            # 401/403/404 and the like will not get better by asking again.
            raise RpcUnavailable(f"RPC {self.label}: HTTP {status}")
        if reply is None:
            raise _Transient("answer is not JSON")

        if expect_ids is None:
            if isinstance(reply, dict) and ("result" in reply or "error" in reply):
                return reply
            raise _Transient("answer is not a JSON-RPC response")
        if isinstance(reply, dict) and "error" in reply:
            # Some nodes answer a whole batch with one error object (e.g. batch too large).
            return [dict(reply, id=i) for i in expect_ids]
        if not isinstance(reply, list) or not all(isinstance(x, dict) for x in reply):
            raise _Transient("batch answer is not a JSON array of responses")
        if {x.get("id") for x in reply} != set(expect_ids):
            raise _Transient("batch answer does not match the request ids")
        return reply


def _is_rpc_reply(reply: Any) -> bool:
    # A JSON error page from a proxy ({"error": "bad gateway"}) is not a JSON-RPC answer.
    if isinstance(reply, dict):
        return "jsonrpc" in reply and ("result" in reply or "error" in reply)
    return isinstance(reply, list) and bool(reply) and all(_is_rpc_reply(x) for x in reply)
