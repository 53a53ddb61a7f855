"""Bounded load on the node from cache-first group reads: the groupCount() gate, the failure
breaker, the per-client throttle and the per-process bulkhead (anvil behind the fault proxy)."""

import re
import threading
import time

import pytest
from django.core.cache import cache

from ajo import chainreads
from ajo.api.throttling import ChainReadThrottle
from ajo.chainreads import ChainReadsPaused, chain_read_guard
from devtools.chainkit import point_settings_at, private_chain
from devtools.faultproxy import FaultProxy
from groups.tests.factories import GroupFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def chain():
    with private_chain() as chain:
        chain.fund(chain.accounts[0])
        chain.create_group(chain.accounts[0], name="On chain")
        yield chain


@pytest.fixture
def node(chain, settings):
    """The chain behind a fault proxy that counts requests; settings point at the proxy."""
    proxy = FaultProxy(chain.url)
    point_settings_at(settings, chain, rpc_url=proxy.url)
    yield proxy
    proxy.close()


@pytest.fixture
def generous(monkeypatch):
    # The throttle has its own test: here one client sends hundreds of misses.
    monkeypatch.setattr(ChainReadThrottle, "THROTTLE_RATES", {"chain_read": "100000/min"})


def test_ids_above_group_count_are_404_for_one_eth_call(client, chain, node, generous):
    count = chain.ajo.functions.groupCount().call()
    before = node.requests
    for group_id in range(count + 1, count + 301):
        response = client.get(f"/api/groups/{group_id}/")
        assert response.status_code == 404
        assert response.json()["error"]["message"] == f"group {group_id} does not exist"
    # groupCount() once (again if the test outlived its few seconds in the cache); no getGroup.
    assert node.requests - before <= 2
    # A group the chain has is still read through.
    response = client.get(f"/api/groups/{count}/")
    assert response.status_code == 200
    assert response.json()["source"] == "chain_view"


def test_a_failing_node_is_asked_once_per_few_seconds(
    client, node, generous, monkeypatch, settings
):
    # Remembered for 30 s: long enough that a hundred requests on a busy machine all fall
    # inside it (with 1 s they did not, under CI's load).
    monkeypatch.setattr(chainreads, "CHAIN_FAILURE_SECONDS", 30)
    node.fail_always("http503")
    first = client.get("/api/groups/1/")
    assert first.status_code == 503
    assert "HTTP 503 after 2 attempts" in first.json()["error"]["message"]
    assert first["Retry-After"] == "30"
    asked = node.requests
    assert asked == 2  # one call and its retry

    for group_id in range(1, 101):
        response = client.get(f"/api/groups/{group_id}/")
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "chain_unavailable"
        remembered = re.match(
            r"the node failed \d+s ago \(RPC .*HTTP 503 after 2 attempts\); "
            r"not asked again for (\d+)s$",
            error["message"],
        )
        assert remembered, error["message"]
        retry_after = int(remembered.group(1))
        assert 1 <= retry_after <= 30
        assert error["details"] == {"retry_after_seconds": retry_after}
        assert response["Retry-After"] == str(retry_after)
    assert node.requests == asked  # a hundred 503s, not one more request to the node
    # The node's head is not asked either (/api/sync/ reports the reason).
    assert "the node failed" in client.get("/api/sync/").json()["head_error"]
    assert node.requests == asked

    # When the memory expires (here: at once, rather than waiting 30 s), the node is asked
    # again, and it answers.
    cache.delete(chainreads._failure_key())
    node.clear()
    assert client.get("/api/groups/1/").status_code == 200


def test_a_node_that_never_answers_costs_one_request_the_deadline(client, node, generous):
    node.hang()
    started = time.monotonic()
    response = client.get("/api/groups/1/")
    waited = time.monotonic() - started
    assert response.status_code == 503
    assert "deadline 4s" in response.json()["error"]["message"]
    assert waited < chainreads.CHAIN_READ_DEADLINE + 1
    asked = node.requests
    started = time.monotonic()
    for group_id in range(1, 21):
        assert client.get(f"/api/groups/{group_id}/").status_code == 503
    assert time.monotonic() - started < 2  # twenty answers without waiting on the node
    assert node.requests == asked


def test_misses_are_throttled_per_client_and_hits_are_not(client, settings, monkeypatch):
    monkeypatch.setattr(ChainReadThrottle, "THROTTLE_RATES", {"chain_read": "5/min"})
    settings.AJO_CONTRACT_ADDRESS = ""  # nothing to read through to: misses are 404s
    GroupFactory(id=1)
    codes = [
        client.get(f"/api/groups/{n}/", REMOTE_ADDR="198.51.100.7").status_code for n in range(2, 9)
    ]
    assert codes == [404] * 5 + [429] * 2
    throttled = client.get("/api/groups/9/", REMOTE_ADDR="198.51.100.7")
    assert throttled.json()["error"]["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    # Indexed groups are answered from the database: never counted, never throttled.
    for _ in range(10):
        assert client.get("/api/groups/1/", REMOTE_ADDR="198.51.100.7").status_code == 200
    # Another client has its own quota.
    assert client.get("/api/groups/2/", REMOTE_ADDR="198.51.100.8").status_code == 404


def test_only_a_few_requests_of_a_process_wait_on_the_node_at_once():
    release = threading.Event()
    inside = threading.Barrier(chainreads.CHAIN_READ_SLOTS + 1)

    def wait_on_the_node():
        with chain_read_guard():
            inside.wait()
            release.wait(10)

    waiting = [
        threading.Thread(target=wait_on_the_node) for _ in range(chainreads.CHAIN_READ_SLOTS)
    ]
    for thread in waiting:
        thread.start()
    try:
        inside.wait(5)
        refused = pytest.raises(ChainReadsPaused, match="already waiting on the node")
        with refused as info, chain_read_guard():
            pass
        assert info.value.retry_after == 1
    finally:
        release.set()
        for thread in waiting:
            thread.join()
    with chain_read_guard():  # the slots are free again
        pass


def test_ingest_on_a_node_that_never_answers_answers_within_the_deadline(client, node):
    node.hang()
    started = time.monotonic()
    response = client.post(
        "/api/transactions/", {"tx_hash": "0x" + "ab" * 32}, content_type="application/json"
    )
    assert response.status_code == 503
    assert "deadline 4s" in response.json()["error"]["message"]
    assert response["Retry-After"] == str(chainreads.CHAIN_FAILURE_SECONDS)
    # The sync's client (30 s per attempt, five retries) would have held the worker for minutes.
    assert time.monotonic() - started < chainreads.CHAIN_READ_DEADLINE + 1
