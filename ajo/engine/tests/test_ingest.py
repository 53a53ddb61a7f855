"""Ingesting one mined transaction ahead of the sync, through the sync's own handlers."""

import pytest

from ajo.engine import loop
from ajo.engine.ingest import (
    InvalidTxHash,
    NoContractLogs,
    TxNotFound,
    TxPending,
    ingest_transaction,
)
from ajo.engine.verify import verify
from ajo.models import SyncState
from contributions.models import Contribution
from devtools.chainkit import (
    AMOUNT,
    database_snapshot,
    private_chain,
    rewound,
    tx_hash,
)
from groups.models import Group, Membership, User


@pytest.fixture(scope="module")
def chain():
    with private_chain() as chain:
        yield chain


@pytest.fixture
def on_chain(chain, settings):
    with rewound(chain, settings):
        yield chain


# Transactional: on PostgreSQL the second sync then runs pipelined, and its writer finds the
# rows ingested ahead in the window it was given.
@pytest.mark.django_db(transaction=True)
def test_ingest_ahead_of_the_sync_then_sync_adds_no_duplicates(on_chain):
    a, b = on_chain.accounts[1], on_chain.accounts[2]
    on_chain.fund(a, b)
    loop.run()
    group_id = on_chain.create_group(a, max_members=2, name="Fresh")
    on_chain.join(group_id, b)
    receipt = on_chain.contribute(group_id, b)

    result = ingest_transaction(tx_hash=tx_hash(receipt))

    assert result.events == {"ContributionMade": 1}
    assert result.applied == 1
    assert result.block_number == receipt["blockNumber"]
    contribution = Contribution.objects.get()
    assert (contribution.group_id, contribution.amount, contribution.round) == (group_id, AMOUNT, 1)
    assert contribution.member.address == b.lower()
    group = Group.objects.get(id=group_id)  # read from the view functions to hold the row
    assert (group.source, group.status, group.member_count) == ("chain_view", "active", 2)
    assert SyncState.objects.get().ahead_block == receipt["blockNumber"]
    # the member's totals count the payment at once (the ingest rolls its own rows up)
    member = User.objects.get(address=b.lower())
    membership = Membership.objects.get(group_id=group_id, user=member)
    assert (membership.total_contributed, membership.contribution_count) == (AMOUNT, 1)
    assert (member.total_contributed, member.contribution_count) == (AMOUNT, 1)

    loop.run()

    assert Contribution.objects.count() == 1
    group.refresh_from_db()
    assert (group.source, group.total_contributed, group.paid_this_round) == ("events", AMOUNT, 1)
    member.refresh_from_db()
    membership = Membership.objects.get(group_id=group_id, user=member)  # rebuilt by the revert
    assert (membership.total_contributed, membership.contribution_count) == (AMOUNT, 1)
    assert (member.total_contributed, member.contribution_count) == (AMOUNT, 1)
    assert SyncState.objects.get().ahead_block is None
    assert verify() == []


@pytest.mark.django_db
def test_ingesting_the_same_transaction_twice_changes_nothing(on_chain):
    a, b = on_chain.accounts[1], on_chain.accounts[2]
    on_chain.fund(a, b)
    group_id = on_chain.create_group(a, max_members=2)
    joined = on_chain.join(group_id, b)
    loop.run()
    before = database_snapshot()
    result = ingest_transaction(tx_hash=tx_hash(joined))
    assert result.events == {"MemberJoined": 1, "GroupStarted": 1}
    assert result.applied == 0
    assert database_snapshot() == before


@pytest.mark.django_db
def test_ingest_refuses_what_it_cannot_apply(on_chain):
    a = on_chain.accounts[1]
    with pytest.raises(InvalidTxHash, match="64 hex digits"):
        ingest_transaction(tx_hash="0x1234")
    with pytest.raises(TxNotFound, match="not known"):
        ingest_transaction(tx_hash="0x" + "ab" * 32)

    mint = on_chain.send(on_chain.token.functions.mint(a, 5), a)
    with pytest.raises(NoContractLogs, match="no events of the Ajo contract"):
        ingest_transaction(tx_hash=tx_hash(mint))

    on_chain.rpc.call("evm_setAutomine", [False])
    try:
        pending = on_chain.token.functions.mint(a, 5).transact({"from": a, "gas": 100_000})
        with pytest.raises(TxPending, match="not mined yet"):
            ingest_transaction(tx_hash="0x" + pending.hex().removeprefix("0x"))
    finally:
        on_chain.rpc.call("evm_setAutomine", [True])
        on_chain.mine(1)
    assert not Contribution.objects.exists()
