"""POST /api/transactions/ stores nothing it has not proved: the receipt's block is the
canonical one, as deep as the sync indexes, at or after the start block, and the index holds
no other block at that height. What it refuses is a 4xx/5xx with a message, and no row."""

import signal
import time

import pytest

from ajo.engine import loop
from ajo.engine.verify import verify
from ajo.models import SyncState
from contributions.models import Contribution, Payout
from devtools.chainkit import (
    AMOUNT,
    DAY,
    OutputWatcher,
    database_snapshot,
    kill,
    manage,
    tx_hash,
)
from devtools.faultproxy import FaultProxy
from groups.models import Group, Membership


@pytest.fixture
def proxy(on_chain, settings):
    proxy = FaultProxy(on_chain.url)
    settings.CHAIN_RPC_URL = proxy.url
    yield proxy
    proxy.close()


def group_args(chain) -> tuple:
    """createGroup's arguments after the name."""
    return (chain.deployment.token, AMOUNT, DAY, 3)


def ingest(client, receipt):
    return client.post(
        "/api/transactions/", {"tx_hash": tx_hash(receipt)}, content_type="application/json"
    )


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    return response.json()["error"]


def nothing_stored() -> bool:
    return not (Group.objects.exists() or Membership.objects.exists())


@pytest.mark.django_db
def test_a_receipt_from_a_block_the_chain_left_is_409(client, on_chain, proxy):
    a = on_chain.accounts[1]
    fork = on_chain.snapshot()
    receipt = on_chain.send(on_chain.ajo.functions.createGroup("Gone", *group_args(on_chain)), a)
    stale = on_chain.rpc.call("eth_getTransactionReceipt", [tx_hash(receipt)])
    on_chain.revert(fork)
    on_chain.mine(3)  # other blocks at that height now
    proxy.answer("eth_getTransactionReceipt", stale)  # a node still serving the old fork

    body = error(ingest(client, receipt), 409)

    assert body["code"] == "reorg_pending"
    assert f"the chain's block {receipt['blockNumber']} is 0x" in body["message"]
    assert "reorganised" in body["message"]
    assert nothing_stored()


@pytest.mark.django_db
def test_a_block_the_index_holds_in_another_version_is_409_until_the_sync_reverts_it(
    client, on_chain
):
    a, b = on_chain.accounts[1:3]
    fork = on_chain.snapshot()
    on_chain.create_group(a, name="Indexed, then orphaned")
    loop.run()
    before = database_snapshot()
    on_chain.revert(fork)
    create = on_chain.ajo.functions.createGroup("Canonical", *group_args(on_chain))
    replaced = on_chain.send(create, b)

    body = error(ingest(client, replaced), 409)

    assert body["code"] == "reorg_pending"
    assert "a reorg is pending" in body["message"]
    assert database_snapshot() == before  # the sync reverts the old block, not the ingest
    loop.run()
    response = ingest(client, replaced)
    assert response.status_code == 200, response.content
    assert response.json()["applied"] == 0  # the sync has it now
    assert Group.objects.get().name == "Canonical"
    assert verify() == []


@pytest.mark.django_db
def test_an_indexed_block_the_index_saw_without_events_is_409(client, on_chain):
    fork = on_chain.snapshot()
    on_chain.mine(3)
    loop.run()  # blocks indexed with no contract event: no block hash kept for them
    on_chain.revert(fork)
    create = on_chain.ajo.functions.createGroup("Unseen", *group_args(on_chain))
    receipt = on_chain.send(create, on_chain.accounts[1])
    on_chain.mine(3)
    assert receipt["blockNumber"] <= SyncState.objects.get().last_block

    body = error(ingest(client, receipt), 409)

    assert body["code"] == "reorg_pending"
    assert nothing_stored()  # below the checkpoint: the sync would never revisit these rows


@pytest.mark.django_db
def test_a_block_not_confirmations_deep_is_409_with_the_block_it_waits_for(
    client, on_chain, settings
):
    settings.SYNC_CONFIRMATIONS = 2
    a = on_chain.accounts[1]
    receipt = on_chain.send(on_chain.ajo.functions.createGroup("Fresh", *group_args(on_chain)), a)
    block = receipt["blockNumber"]

    body = error(ingest(client, receipt), 409)

    assert body["code"] == "tx_not_confirmed"
    assert body["message"] == (
        f"block {block} has 0 of the 2 confirmations this index waits for: the transaction "
        f"can be ingested from block {block + 2} on (the chain is at block {block})"
    )
    assert nothing_stored()
    on_chain.mine(1)
    assert error(ingest(client, receipt), 409)["code"] == "tx_not_confirmed"
    on_chain.mine(1)
    response = ingest(client, receipt)
    assert response.status_code == 200, response.content
    assert response.json()["applied"] == 2  # the group and its creator's seat
    assert Group.objects.get().name == "Fresh"


@pytest.mark.django_db
def test_a_block_below_the_start_block_is_422(client, on_chain, settings):
    receipt = on_chain.send(
        on_chain.ajo.functions.createGroup("Early", *group_args(on_chain)), on_chain.accounts[1]
    )
    settings.AJO_START_BLOCK = receipt["blockNumber"] + 1

    body = error(ingest(client, receipt), 422)

    assert body["code"] == "before_start_block"
    assert f"before block {receipt['blockNumber'] + 1} where this index starts" in body["message"]
    assert nothing_stored()


@pytest.mark.django_db
def test_a_node_without_the_block_or_timing_out_is_503(client, on_chain, proxy):
    receipt = on_chain.send(
        on_chain.ajo.functions.createGroup("Lagging", *group_args(on_chain)), on_chain.accounts[1]
    )
    proxy.answer("eth_getBlockByNumber", None)  # a node behind the one that gave the receipt
    body = error(ingest(client, receipt), 503)
    assert body["code"] == "block_unavailable"
    assert f"the node has no block {receipt['blockNumber']}" in body["message"]

    proxy.clear()
    proxy.fail_next(2, "timeout")  # the request and its one retry
    body = error(ingest(client, receipt), 503)
    assert body["code"] == "chain_unavailable"
    assert nothing_stored()


@pytest.mark.django_db
def test_a_block_already_indexed_is_answered_from_the_database(client, on_chain):
    a, b = on_chain.accounts[1:3]
    group_id = on_chain.create_group(a, max_members=2)
    joined = on_chain.join(group_id, b)
    loop.run()
    before = database_snapshot()

    response = ingest(client, joined)

    assert response.status_code == 200, response.content
    assert response.json() == {
        "tx_hash": tx_hash(joined),
        "block_number": joined["blockNumber"],
        "events": {"MemberJoined": 1, "GroupStarted": 1},
        "applied": 0,
    }
    assert database_snapshot() == before
    assert SyncState.objects.get().ahead_block is None


@pytest.mark.django_db(transaction=True)
def test_ingest_beside_a_following_sync_ends_in_the_chain_s_database(client, on_chain):
    accounts = on_chain.accounts[1:6]
    process = manage("sync_chain", "--follow", "--poll-interval", "0.05", chain=on_chain)
    log = OutputWatcher(process)
    try:
        deadline = time.monotonic() + 30
        while not log.saw("holding the writer lock"):
            assert process.poll() is None and time.monotonic() < deadline, log.text
            time.sleep(0.05)
        statuses = []
        for index in range(4):
            creator, *others = accounts[index:] + accounts[:index]
            group_id = on_chain.create_group(creator, max_members=3, name=f"Race {index}")
            receipts = [on_chain.join(group_id, member) for member in others[:2]]
            receipts += [on_chain.contribute(group_id, member) for member in (creator, *others[:2])]
            for receipt in receipts:  # each as soon as it is mined, while the sync runs
                statuses.append(ingest(client, receipt).status_code)
        assert set(statuses) == {200}

        def caught_up() -> bool:
            state = SyncState.objects.filter(pk=1).first()
            return state is not None and state.last_block == on_chain.head()

        deadline = time.monotonic() + 30
        while not caught_up():
            assert process.poll() is None and time.monotonic() < deadline, log.text
            time.sleep(0.05)
    finally:
        kill(process, signal.SIGINT)
    assert process.returncode == 0, log.text

    assert verify() == []
    logs = on_chain.log_counts()
    assert Group.objects.filter(source="events").count() == logs["GroupCreated"] == 4
    assert Membership.objects.filter(joined_block__isnull=False).count() == logs["MemberJoined"]
    assert Membership.objects.count() == logs["MemberJoined"] == 12
    assert Contribution.objects.count() == logs["ContributionMade"] == 12
    assert Payout.objects.count() == logs["PayoutSent"] == 4
    assert SyncState.objects.get().ahead_block is None


@pytest.mark.django_db
def test_a_receipt_that_contradicts_itself_or_is_malformed_is_502(client, on_chain, proxy):
    receipt = on_chain.send(
        on_chain.ajo.functions.createGroup("Odd", *group_args(on_chain)), on_chain.accounts[1]
    )
    real = on_chain.rpc.call("eth_getTransactionReceipt", [tx_hash(receipt)])
    other_block = {**real, "logs": [{**log, "blockHash": "0x" + "12" * 32} for log in real["logs"]]}
    proxy.answer("eth_getTransactionReceipt", other_block)
    body = error(ingest(client, receipt), 502)
    assert body["code"] == "chain_error"
    assert "names another block or transaction in its logs" in body["message"]

    proxy.answer("eth_getTransactionReceipt", {**real, "blockNumber": "not a number"})
    assert "is malformed" in error(ingest(client, receipt), 502)["message"]
    assert nothing_stored()
