"""sync_chain behind a provider that lies: every answer is checked before it is committed.

Each test puts the lying proxy (faultproxy) in front of anvil and ends with a database that
both verify_chain and an independent reading of anvil's raw logs agree with, or, for a lie
that persists, with a one-line error and the checkpoint before the bad window.
"""

import re
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from prometheus_client import REGISTRY

from ajo.contract.artifacts import EVENT_BY_TOPIC, TOPIC_CONTRIBUTION_MADE, TOPIC_PAYOUT_SENT
from ajo.engine import loop, windows
from ajo.engine.checks import ProviderLie, bloom_mask, check_logs
from ajo.engine.rpc import RpcClient
from ajo.engine.verify import verify
from ajo.models import BlockRecord, SyncState
from contributions.models import Contribution, Payout
from devtools.chainkit import private_chain, rewound
from devtools.faultproxy import LIES, FaultProxy
from groups.models import Group, Membership


@pytest.fixture(scope="module")
def chain():
    with private_chain(groups=6, members=3, rounds=3, seed=5, late_ratio=0.2) as chain:
        yield chain


@pytest.fixture
def on_chain(chain, settings, monkeypatch):
    monkeypatch.setattr(windows, "CHECK_BACKOFF", 0.01)
    with rewound(chain, settings):
        yield chain


@pytest.fixture
def proxy(on_chain, settings):
    proxy = FaultProxy(on_chain.url)
    settings.CHAIN_RPC_URL = proxy.url
    yield proxy
    proxy.close()


def client_for(proxy: FaultProxy) -> RpcClient:
    return RpcClient(proxy.url, backoff_base=0.01, backoff_max=0.05)


def raw_logs(chain) -> list[dict]:
    """The contract's logs straight from anvil, not through the proxy."""
    return chain.rpc.call(
        "eth_getLogs",
        [{"address": chain.deployment.ajo, "fromBlock": "0x0", "toBlock": "latest"}],
    )


def assert_database_is_the_chain(chain) -> None:
    """verify_chain agrees, and so does an independent count of anvil's raw logs: each
    event where it sits, each stored block hash the chain's."""
    assert verify() == []
    logs = raw_logs(chain)
    counts = Counter(EVENT_BY_TOPIC[log["topics"][0]] for log in logs)
    assert Group.objects.count() == counts["GroupCreated"]
    assert Membership.objects.count() == counts["MemberJoined"]
    assert Group.objects.filter(status="completed").count() == counts["GroupCompleted"]
    for model, topic in ((Contribution, TOPIC_CONTRIBUTION_MADE), (Payout, TOPIC_PAYOUT_SENT)):
        on_chain = {
            (int(log["blockNumber"], 16), int(log["logIndex"], 16))
            for log in logs
            if log["topics"][0] == topic
        }
        assert set(model.objects.values_list("block_number", "log_index")) == on_chain
    records = dict(BlockRecord.objects.values_list("number", "hash"))
    headers = chain.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in records])
    assert records == {int(h["number"], 16): h["hash"] for h in headers}
    assert SyncState.objects.get().last_block == chain.head()


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_bloom_bits_are_the_chains():
    """Every header's logsBloom is the OR of the bits of its logs' addresses and topics, as
    bloom_mask computes them (checked over a chain's blocks, all contracts' logs)."""
    with private_chain(groups=2, members=2, rounds=1) as chain:
        head = chain.head()
        headers = chain.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in range(head)])
        logs = chain.rpc.call("eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(head)}])
    expected: dict[int, int] = {}
    for log in logs:
        number = int(log["blockNumber"], 16)
        for item in (log["address"], *log["topics"]):
            expected[number] = expected.get(number, 0) | bloom_mask(item)
    assert len(expected) > 5
    for header in headers:
        assert int(header["logsBloom"], 16) == expected.get(int(header["number"], 16), 0)


@pytest.mark.parametrize(
    ("log", "message"),
    [
        ({"blockNumber": "0x5"}, "malformed log (KeyError: 'blockHash')"),
        ({"blockNumber": "zz"}, "malformed log (ValueError"),
        ({"blockNumber": "0x5", "blockHash": "0xaa", "address": None, "topics": []}, "malformed"),
        ("not a log", "malformed log (TypeError"),
    ],
)
def test_a_malformed_log_is_a_lie_not_a_traceback(log, message):
    headers = {5: {"hash": "0xaa", "timestamp": "0x1", "logsBloom": "0x" + "0" * 512}}
    with pytest.raises(ProviderLie, match=re.escape(message)) as raised:
        check_logs([log], contract="0x" + "11" * 20, first=5, last=5, headers=headers)
    assert raised.value.kind == "malformed"


# --- a lie told once: the window is fetched again, nothing is lost or invented -------------


@pytest.mark.django_db
@pytest.mark.parametrize("lie", LIES)
def test_a_lie_told_once_is_fetched_again(proxy, on_chain, lie):
    check = {
        "drop_logs": "omitted",
        "drop_log": "omitted",
        "rewrite_hash": "hash",
        "removed": "removed",
        "foreign_address": "address",
        "wrong_block": "range",
    }[lie]
    before = metric("ajo_sync_provider_refetches_total", check=check)
    proxy.lie_next(1, lie)

    summary = loop.run(client=client_for(proxy))

    assert proxy.lies_told == 1
    assert summary.events == len(raw_logs(on_chain))
    assert_database_is_the_chain(on_chain)
    assert metric("ajo_sync_provider_refetches_total", check=check) == before + 1


@pytest.mark.django_db
def test_a_node_behind_the_head_is_waited_for(proxy, on_chain):
    """getLogs answered by a node that has only the first half of the chain, twice, while
    headers come from one at the head: the sync waits for it instead of skipping blocks."""
    middle = (on_chain.deployment.block + on_chain.head()) // 2
    proxy.lag(middle, answers=2)
    before = metric("ajo_sync_provider_refetches_total", check="omitted")
    summary = loop.run(client=client_for(proxy), batch_blocks=100_000)
    assert proxy.lag_above is None  # it caught up
    assert metric("ajo_sync_provider_refetches_total", check="omitted") == before + 2
    assert summary.events == len(raw_logs(on_chain))
    assert_database_is_the_chain(on_chain)


@pytest.mark.django_db
def test_a_dense_bloom_does_not_stop_the_sync(proxy, on_chain):
    """Every bloom says "maybe": each block without our logs is a false positive, told apart
    by one query for that block, counted, and the sync goes on."""
    proxy.bloom = "full"
    before = metric("ajo_sync_bloom_false_positives_total")
    summary = loop.run(client=client_for(proxy))
    blocks = on_chain.head() - on_chain.deployment.block + 1
    with_logs = len({log["blockNumber"] for log in raw_logs(on_chain)})
    assert metric("ajo_sync_bloom_false_positives_total") - before >= blocks - with_logs
    assert summary.events == len(raw_logs(on_chain))
    assert_database_is_the_chain(on_chain)


@pytest.mark.django_db
def test_suspects_are_confirmed_in_batches_the_provider_accepts(proxy, on_chain):
    proxy.bloom = "full"
    proxy.max_getlogs_batch = 3
    summary = loop.run(client=client_for(proxy), batch_blocks=100_000)
    assert summary.events == len(raw_logs(on_chain))
    assert_database_is_the_chain(on_chain)


@pytest.mark.django_db
def test_headers_come_by_eth_getheaderbynumber_where_the_node_has_it(proxy, on_chain):
    """Where the node answers eth_getHeaderByNumber the sync reads headers with it (no
    transaction list); anvil lacks it, and every other test runs on the fallback."""
    proxy.serve_headers = True
    summary = loop.run(client=client_for(proxy))
    assert proxy.header_calls > on_chain.head() - on_chain.deployment.block
    assert summary.events == len(raw_logs(on_chain))
    assert_database_is_the_chain(on_chain)


@pytest.mark.django_db
def test_a_node_without_eth_getheaderbynumber_is_no_rpc_error(on_chain):
    before = metric("ajo_sync_rpc_errors_total")
    loop.run()
    assert metric("ajo_sync_rpc_errors_total") == before
    assert_database_is_the_chain(on_chain)


# --- a lie that persists: a one-line error, the checkpoint before the bad window --------------


def first_block_with_logs_after(chain, block: int) -> int:
    return min(
        int(log["blockNumber"], 16)
        for log in raw_logs(chain)
        if int(log["blockNumber"], 16) > block
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda proxy, height: proxy.lie_always("rewrite_hash"), "is not the header's"),
        (lambda proxy, height: proxy.lie_always("removed"), "log flagged removed"),
        (lambda proxy, height: proxy.lie_always("drop_logs"), "the getLogs answer lacks"),
        (lambda proxy, height: proxy.lag(height), "a query for the block failed"),
        (
            lambda proxy, height: setattr(proxy, "bloom", "empty"),
            "logsBloom rules the contract out",
        ),
    ],
    ids=["rewrite_hash", "removed", "drop_logs", "lagging_node", "empty_bloom"],
)
def test_a_lie_that_persists_stops_the_sync_before_the_bad_window(proxy, on_chain, setup, message):
    middle = (on_chain.deployment.block + on_chain.head()) // 2
    loop.run(to_block=middle, client=client_for(proxy))
    bad = first_block_with_logs_after(on_chain, middle)
    setup(proxy, middle)

    with pytest.raises(CommandError) as raised:
        call_command("sync_chain", "--batch-blocks", "1")

    text = str(raised.value)
    assert "\n" not in text
    assert f"block {bad}: " in text and message in text
    assert "failed a check 5 times in a row" in text
    assert f"nothing from block {bad} on was indexed" in text
    state = SyncState.objects.get()
    assert state.last_block == bad - 1
    assert not Contribution.objects.filter(block_number__gt=state.last_block).exists()
    assert not Membership.objects.filter(joined_block__gt=state.last_block).exists()

    proxy.clear()
    loop.run(client=client_for(proxy))
    assert_database_is_the_chain(on_chain)
