"""RpcClient against a real anvil, and behind a fault-injecting proxy for the failures."""

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from ajo.engine.rpc import RpcClient, RpcError, RpcUnavailable, endpoint_label
from devtools import faultproxy
from devtools.anvil import free_port


class FaultProxy:
    """Answers the next requests with canned faults, then forwards to anvil."""

    def __init__(self, upstream: str):
        self.faults: list[tuple[int, bytes]] = []
        self.requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                proxy.requests += 1
                if proxy.faults:
                    status, payload = proxy.faults.pop(0)
                else:
                    upstream_reply = requests.post(
                        upstream,
                        data=body,
                        headers={"Content-Type": "application/json"},
                        timeout=10,
                    )
                    status, payload = upstream_reply.status_code, upstream_reply.content
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(anvil):
    fault_proxy = FaultProxy(anvil.url)
    yield fault_proxy
    fault_proxy.close()


def fast_client(url, **kwargs):
    return RpcClient(url, backoff_base=0.001, backoff_max=0.01, timeout=5, **kwargs)


def test_call_and_helpers(anvil, deployed):
    with RpcClient(anvil.url) as rpc:
        assert rpc.chain_id() == 31337
        assert rpc.block_number() >= deployed.block
        assert len(rpc.get_code(deployed.ajo)) > 1000
        assert rpc.get_code("0x" + "12" * 20) == "0x"


def test_batch_returns_results_in_call_order(anvil, deployed):
    with RpcClient(anvil.url) as rpc:
        calls = [
            ("eth_getCode", [deployed.ajo, "latest"]),
            ("eth_chainId", []),
            ("eth_getBlockByNumber", ["0x0", False]),
            ("eth_blockNumber", []),
        ]
        results = rpc.batch(calls)
        assert results[0] == rpc.get_code(deployed.ajo)
        assert results[1] == "0x7a69"
        assert results[2]["number"] == "0x0"
        assert int(results[3], 16) == rpc.block_number()
        assert rpc.batch([]) == []


def test_rpc_errors_are_raised_at_once_with_code_and_message(proxy):
    rpc = fast_client(f"http://127.0.0.1:{proxy.port}")
    with pytest.raises(RpcError) as info:
        rpc.call("no_such_method", [])
    assert info.value.code == -32601
    assert "no_such_method" in str(info.value)
    assert proxy.requests == 1 and rpc.retries == 0 and rpc.errors == 1

    results = rpc.batch([("eth_chainId", []), ("no_such_method", [])], return_errors=True)
    assert results[0] == "0x7a69"
    assert isinstance(results[1], RpcError) and results[1].code == -32601
    with pytest.raises(RpcError):
        rpc.batch([("eth_chainId", []), ("no_such_method", [])])


@pytest.mark.parametrize(
    "status, body",
    [
        (503, b"upstream down"),
        (429, b'{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"rate limited"}}'),
        (502, b""),
        (200, b"<html>not json</html>"),
        (200, b'{"jsonrpc":"2.0"}'),
    ],
)
def test_transient_failures_are_retried(proxy, status, body):
    rpc = fast_client(f"http://127.0.0.1:{proxy.port}", max_retries=3)
    proxy.faults = [(status, body), (status, body)]
    assert rpc.chain_id() == 31337
    assert rpc.retries == 2 and rpc.errors == 2
    assert proxy.requests == 3


def test_retries_run_out_into_one_line_unavailable(proxy):
    rpc = fast_client(f"http://127.0.0.1:{proxy.port}", max_retries=2)
    proxy.faults = [(500, b"boom")] * 3
    with pytest.raises(RpcUnavailable) as info:
        rpc.block_number()
    message = str(info.value)
    assert message == (
        f"RPC 127.0.0.1:{proxy.port} unavailable (eth_blockNumber): HTTP 500 after 3 attempts"
    )
    assert rpc.retries == 2 and rpc.errors == 3


@pytest.fixture
def silent_node(anvil):
    """A node that takes every request and never answers."""
    node = faultproxy.FaultProxy(anvil.url)
    node.hang()
    yield node
    node.close()


def test_a_deadline_bounds_a_whole_call_on_a_node_that_never_answers(silent_node):
    rpc = RpcClient(silent_node.url, timeout=0.6, max_retries=5, backoff_max=0.05, deadline=1.0)
    started = time.monotonic()
    with pytest.raises(RpcUnavailable) as info:
        rpc.block_number()
    elapsed = time.monotonic() - started
    # Five retries of 0.6 s would take 3.6 s; the deadline stops them after about 1 s.
    assert elapsed < 1.4, elapsed
    assert silent_node.requests == 2
    # The second attempt had only what was left of the second: its timeout says how much.
    assert re.fullmatch(
        rf"RPC {re.escape(rpc.label)} unavailable \(eth_blockNumber\): no answer within "
        r"0\.[2-4]\d*s after 2 attempts \(deadline 1s\)",
        str(info.value),
    ), str(info.value)
    silent_node.clear()
    assert rpc.chain_id() == 31337  # the same client answers once the node does


def test_without_a_deadline_every_retry_is_taken(silent_node):
    # The sync's clients set no deadline: their retries and timeouts are as before.
    rpc = RpcClient(silent_node.url, timeout=0.3, max_retries=2, backoff_max=0.01)
    started = time.monotonic()
    with pytest.raises(RpcUnavailable, match=r"no answer within 0.3s after 3 attempts$"):
        rpc.block_number()
    assert time.monotonic() - started >= 0.9
    assert silent_node.requests == 3


def test_client_errors_other_than_429_are_not_retried(proxy):
    rpc = fast_client(f"http://127.0.0.1:{proxy.port}")
    proxy.faults = [(403, b"forbidden")]
    with pytest.raises(RpcUnavailable, match="HTTP 403"):
        rpc.chain_id()
    assert proxy.requests == 1


def test_refused_connection_message_has_host_port_but_no_credentials():
    port = free_port()
    rpc = fast_client(f"http://alice:s3cret@127.0.0.1:{port}/v3/apikey123", max_retries=1)
    with pytest.raises(RpcUnavailable) as info:
        rpc.chain_id()
    message = str(info.value)
    assert message == (
        f"RPC 127.0.0.1:{port} unavailable (eth_chainId): connection refused after 2 attempts"
    )
    assert "\n" not in message and "s3cret" not in message and "apikey" not in message


def test_endpoint_label():
    assert endpoint_label("https://u:p@node.example:8443/key") == "node.example:8443"
    assert endpoint_label("https://node.example/key") == "node.example:443"
    assert endpoint_label("http://[::1]:8545") == "[::1]:8545"


def test_batch_reply_with_wrong_ids_is_transient(anvil):
    proxy = FaultProxy(anvil.url)
    try:
        rpc = fast_client(f"http://127.0.0.1:{proxy.port}", max_retries=1)
        wrong = json.dumps([{"jsonrpc": "2.0", "id": 999, "result": "0x1"}]).encode()
        proxy.faults = [(200, wrong)]
        assert rpc.batch([("eth_chainId", [])]) == ["0x7a69"]
        assert rpc.retries == 1
    finally:
        proxy.close()
