"""sync_chain against a real anvil: exact, idempotent, reorg-safe, resilient, one writer."""

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ajo.engine import apply, loop, windows
from ajo.engine.errors import SyncError
from ajo.engine.rpc import RpcClient
from ajo.engine.verify import verify
from ajo.engine.writelock import WriterLock
from ajo.models import BlockRecord, SyncState
from contributions.models import Contribution, Payout
from devtools.chainkit import (
    AMOUNT,
    DAY,
    database_snapshot,
    private_chain,
    rewound,
)
from devtools.deploy import deploy_contracts
from devtools.faultproxy import FaultProxy
from groups.models import Group, Membership, Token, User


@pytest.fixture(scope="module")
def chain():
    with private_chain(groups=8, members=4, rounds=4, seed=3, late_ratio=0.25) as chain:
        yield chain


@pytest.fixture
def on_chain(chain, settings):
    """The simulated chain, rewound after the test; settings point at it."""
    with rewound(chain, settings):
        yield chain


@pytest.fixture
def proxy(on_chain, settings):
    proxy = FaultProxy(on_chain.url)
    settings.CHAIN_RPC_URL = proxy.url
    yield proxy
    proxy.close()


def fast_client(url: str, **kwargs) -> RpcClient:
    return RpcClient(url, backoff_base=0.01, backoff_max=0.05, **kwargs)


@pytest.mark.django_db
def test_sync_mirrors_the_chain_exactly(on_chain):
    summary = loop.run()

    logs = on_chain.log_counts()
    assert summary.events == sum(logs.values())
    assert Group.objects.count() == logs["GroupCreated"]
    assert Membership.objects.count() == logs["MemberJoined"]
    assert Contribution.objects.count() == logs["ContributionMade"]
    assert Payout.objects.count() == logs["PayoutSent"]
    assert Group.objects.filter(status="completed").count() == logs["GroupCompleted"]
    assert set(Group.objects.values_list("status", flat=True)) == {"forming", "active", "completed"}
    assert Contribution.objects.filter(is_late=True).exists()
    assert verify() == []

    for group in Group.objects.all():
        amounts = list(group.contributions.values_list("amount", flat=True))
        assert group.total_contributed == sum(amounts)
        assert group.contribution_count == len(amounts)
    token = Token.objects.get()
    assert (token.symbol, token.decimals) == ("TUSD", 6)
    assert token.total_contributed == sum(Contribution.objects.values_list("amount", flat=True))

    state = SyncState.objects.get()
    assert state.last_block == on_chain.head()
    assert (
        state.last_block_hash
        == on_chain.rpc.call("eth_getBlockByNumber", ["latest", False])["hash"]
    )


@pytest.mark.django_db
def test_second_run_changes_nothing(on_chain):
    loop.run()
    before = database_snapshot()
    again = loop.run()
    assert again.events == 0
    assert database_snapshot() == before


@pytest.mark.django_db
def test_window_size_does_not_change_the_result(on_chain, monkeypatch):
    loop.run(batch_blocks=1)
    one_block_windows = database_snapshot()
    loop.run(reindex_first=True, batch_blocks=100_000)
    assert database_snapshot() == one_block_windows

    # one big window written in parts of about 40 events, each with its own checkpoint
    monkeypatch.setattr(windows, "TARGET_LOGS", 40)
    checkpoints = []
    summary = loop.run(
        reindex_first=True,
        batch_blocks=100_000,
        on_window=lambda syncer: checkpoints.append(SyncState.objects.get().last_block),
    )
    assert summary.windows > 3
    assert checkpoints == sorted(checkpoints)
    assert database_snapshot() == one_block_windows
    assert verify() == []


@pytest.mark.django_db
def test_to_block_then_resume(on_chain):
    head = on_chain.head()
    middle = (on_chain.deployment.block + head) // 2
    first = loop.run(to_block=middle)
    assert first.to_block == middle
    assert SyncState.objects.get().last_block == middle
    rest = loop.run()
    assert rest.from_block == middle + 1
    assert first.events + rest.events == sum(on_chain.log_counts().values())
    assert verify() == []


# --- the pipelined writer (PostgreSQL) ---------------------------------------------------------


@pytest.fixture
def pipeline_log(monkeypatch):
    """Records the windows the pipeline planned and what its writer answered for each."""
    if connection.vendor != "postgresql":
        pytest.skip("the pipelined writer runs on PostgreSQL")
    log = {"planned": [], "outcomes": []}
    plan, commit = loop.Syncer.plan_window, loop.Syncer.commit_planned

    def recording_plan(self, window):
        log["planned"].append(window)
        return plan(self, window)

    def recording_commit(self, window, writes, **options):
        log["outcomes"].append(commit(self, window, writes, **options))
        return log["outcomes"][-1]

    monkeypatch.setattr(loop.Syncer, "plan_window", recording_plan)
    monkeypatch.setattr(loop.Syncer, "commit_planned", recording_commit)
    # small windows: a group's joins, payments and payouts fall in different windows, so
    # each planned window needs rows the window before it is still committing
    monkeypatch.setattr(windows, "TARGET_LOGS", 40)
    return log


@pytest.mark.django_db(transaction=True)
def test_pipelined_writer_gives_the_database_of_one_window_at_a_time(on_chain, pipeline_log):
    loop.Syncer.pipelined = False
    try:
        loop.run(batch_blocks=100_000)
    finally:
        loop.Syncer.pipelined = True
    one_at_a_time = database_snapshot()
    assert pipeline_log["outcomes"] == []

    summary = loop.run(reindex_first=True, batch_blocks=100_000)

    assert summary.windows > 3
    assert pipeline_log["outcomes"] == ["done"] * summary.windows
    assert database_snapshot() == one_at_a_time
    assert verify() == []


@pytest.mark.django_db(transaction=True)
def test_pipelined_window_that_conflicts_is_computed_again(on_chain, pipeline_log, monkeypatch):
    """A wallet stored by someone else (an API read) between planning and commit."""
    monkeypatch.setattr(windows, "TARGET_LOGS", 5)  # joins spread over several windows
    stored = []

    def api_stores_a_wallet_first(syncer):
        planned = pipeline_log["planned"][-1]
        if stored or planned.first <= syncer.summary.to_block:
            return
        known = set(User.objects.values_list("address", flat=True))
        joining = [
            e.member for e in planned.events.get("MemberJoined", []) if e.member not in known
        ]
        if joining:
            User.objects.create(username=joining[0], address=joining[0])
            stored.append(joining[0])

    summary = loop.run(batch_blocks=100_000, on_window=api_stores_a_wallet_first)

    assert stored and "redo" in pipeline_log["outcomes"]
    assert summary.events == sum(on_chain.log_counts().values())
    # the wallet stored first is the one the sync used: its totals are all there
    wallet = User.objects.get(address=stored[0])
    assert wallet.group_count == Membership.objects.filter(user=wallet).count() > 0
    paid = list(Contribution.objects.filter(member=wallet).values_list("amount", flat=True))
    assert (wallet.contribution_count, wallet.total_contributed) == (len(paid), sum(paid))
    assert verify() == []


# --- reorgs ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reorg_that_removes_a_payout(on_chain):
    a, b = on_chain.accounts[1], on_chain.accounts[2]
    on_chain.fund(a, b)
    group_id = on_chain.create_group(a, max_members=2)
    on_chain.join(group_id, b)
    on_chain.contribute(group_id, a)
    fork = on_chain.snapshot()
    on_chain.contribute(group_id, b)  # last payment of round 1: pays the pot out
    loop.run()
    assert Payout.objects.filter(group_id=group_id, round=1).count() == 1
    assert User.objects.get(address=a.lower()).total_received == AMOUNT * 2

    on_chain.revert(fork)
    on_chain.mine(3)  # the canonical chain is now longer and has no payout
    summary = loop.run()

    assert summary.reorgs == 1
    assert not Payout.objects.filter(group_id=group_id).exists()
    group = Group.objects.get(id=group_id)
    assert (group.status, group.current_round, group.paid_this_round) == ("active", 1, 1)
    assert group.total_paid_out == 0
    assert User.objects.get(address=a.lower()).total_received == 0
    assert SyncState.objects.get().reorg_count == 1
    assert verify() == []


@pytest.mark.django_db
def test_reorg_that_moves_a_contribution_to_another_block(on_chain):
    a, b, c = on_chain.accounts[1:4]
    on_chain.fund(a, b, c)
    group_id = on_chain.create_group(a, max_members=3)
    on_chain.join(group_id, b)
    on_chain.join(group_id, c)
    fork = on_chain.snapshot()
    first = on_chain.contribute(group_id, b)
    loop.run()
    assert Contribution.objects.get(group_id=group_id).block_number == first["blockNumber"]

    on_chain.revert(fork)
    on_chain.mine(2)
    moved = on_chain.contribute(group_id, b)
    assert moved["blockNumber"] != first["blockNumber"]
    loop.run()

    contribution = Contribution.objects.get(group_id=group_id)
    assert contribution.block_number == moved["blockNumber"]
    assert contribution.tx_hash == "0x" + moved["transactionHash"].hex().removeprefix("0x")
    assert Group.objects.get(id=group_id).total_contributed == AMOUNT
    assert verify() == []


@pytest.mark.django_db
def test_reorg_that_removes_a_whole_group(on_chain):
    creator, joiner = on_chain.accounts[5], on_chain.accounts[6]
    before = database_snapshot()
    loop.run()
    before = database_snapshot()
    fork = on_chain.snapshot()
    on_chain.fund(creator, joiner)
    group_id = on_chain.create_group(creator, max_members=3, name="Gone Tomorrow")
    on_chain.join(group_id, joiner)
    loop.run()
    assert Group.objects.filter(id=group_id).exists()
    assert User.objects.filter(address=joiner.lower()).exists()

    on_chain.revert(fork)  # the chain is now shorter than the checkpoint
    loop.run()

    assert not Group.objects.filter(id=group_id).exists()
    assert not User.objects.filter(address__in=[creator.lower(), joiner.lower()]).exists()
    assert database_snapshot() == before
    assert not BlockRecord.objects.filter(number__gt=on_chain.head()).exists()
    assert verify() == []


# --- resilient RPC ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_transient_rpc_failures_are_retried(proxy, on_chain):
    for kind in ("refuse", "http500", "http429", "garbage", "http503", "timeout"):
        proxy.fail_next(1, kind)
    client = fast_client(proxy.url, timeout=1.0, max_retries=8)
    summary = loop.run(client=client)
    assert client.retries >= 6
    assert summary.events == sum(on_chain.log_counts().values())
    assert verify() == []


@pytest.mark.django_db
def test_persistent_failure_is_one_line_and_keeps_the_checkpoint(proxy, on_chain, monkeypatch):
    monkeypatch.setattr(windows, "TARGET_LOGS", 2)  # one-block windows: the node dies mid-run
    middle = (on_chain.deployment.block + on_chain.head()) // 2
    loop.run(to_block=middle, client=fast_client(proxy.url))

    def node_goes_down(syncer):
        proxy.fail_always("http503")

    with pytest.raises(SyncError) as raised:
        loop.run(
            client=fast_client(proxy.url, max_retries=2), batch_blocks=2, on_window=node_goes_down
        )

    message = str(raised.value)
    state = SyncState.objects.get()
    assert "\n" not in message
    assert "HTTP 503 after 3 attempts" in message
    assert f"checkpoint kept at block {state.last_block}" in message
    assert middle < state.last_block < on_chain.head()
    # the checkpoint and the rows agree: nothing above it was written
    assert not Contribution.objects.filter(block_number__gt=state.last_block).exists()
    assert not Membership.objects.filter(joined_block__gt=state.last_block).exists()
    assert "503" in state.last_error

    proxy.clear()
    loop.run(client=fast_client(proxy.url))
    assert verify() == []


@pytest.mark.django_db
def test_getlogs_window_shrinks_on_provider_limits_and_grows_back(proxy):
    proxy.max_log_range = 4
    sizes: list[int] = []
    loop.run(
        client=fast_client(proxy.url),
        batch_blocks=64,
        on_window=lambda syncer: sizes.append(syncer.window_size),
    )
    assert proxy.limit_errors >= 1
    first_limit = next(i for i, size in enumerate(proxy.log_ranges) if size > 4)
    later = proxy.log_ranges[first_limit + 1 :]
    assert max(later) > 4, "after successes the window should try to grow again"
    assert verify() == []


# --- one writer, right target ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_second_writer_is_refused(on_chain):
    holder = WriterLock()
    assert holder.try_acquire()
    try:
        with pytest.raises(SyncError, match="another sync_chain is already writing"):
            loop.run()
    finally:
        holder.release()
    assert loop.run().events > 0


@pytest.mark.django_db
def test_another_contract_is_refused(on_chain, settings):
    loop.run()
    other = deploy_contracts(rpc_url=on_chain.url)
    settings.AJO_CONTRACT_ADDRESS = other.ajo
    with pytest.raises(SyncError) as raised:
        loop.run()
    assert f"this database indexes chain 31337 contract {on_chain.deployment.ajo}" in str(
        raised.value
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "AJO_CONTRACT_ADDRESS is not set"),
        ("0x1234", "AJO_CONTRACT_ADDRESS is invalid"),
        ("0x" + "ab" * 20, "no contract code at"),
    ],
)
def test_bad_contract_address_is_a_clear_error(on_chain, settings, address, message):
    settings.AJO_CONTRACT_ADDRESS = address
    with pytest.raises(CommandError, match=message):
        call_command("sync_chain")
    assert not SyncState.objects.exists()


@pytest.mark.django_db
def test_unreachable_node_is_a_clear_error(settings, on_chain):
    settings.CHAIN_RPC_URL = "http://127.0.0.1:9"
    with pytest.raises(SyncError, match="cannot reach the chain"):
        loop.run(client=fast_client("http://127.0.0.1:9", max_retries=1))


@pytest.mark.django_db
def test_stop_request_ends_between_windows(on_chain):
    stop = threading.Event()
    seen = []

    def stop_after_first(syncer):
        seen.append(syncer.summary.to_block)
        stop.set()

    summary = loop.run(batch_blocks=2, stop=stop, on_window=stop_after_first)
    assert summary.windows == 1
    state = SyncState.objects.get()
    assert state.last_block == seen[0] < on_chain.head()
    # the window was not the catch-up's last, but a stopped run rolls its totals up too
    assert state.rolled_up_block == state.last_block
    assert verify() == []


@pytest.mark.django_db
def test_totals_trail_by_at_most_roll_up_events_and_end_exact(on_chain, monkeypatch):
    loop.run()
    at_once = database_snapshot()
    monkeypatch.setattr(windows, "TARGET_LOGS", 20)
    monkeypatch.setattr(apply, "ROLL_UP_EVENTS", 60)
    seen = []

    def record(syncer):
        state = SyncState.objects.get()
        waiting = Contribution.objects.filter(block_number__gt=state.rolled_up_block or -1)
        seen.append((state.last_block, state.rolled_up_block, waiting.count()))

    summary = loop.run(reindex_first=True, batch_blocks=100_000, on_window=record)

    assert summary.windows > 6
    rolled = [rolled_up for _, rolled_up, _ in seen]
    assert rolled == sorted(rolled) and len(set(rolled)) > 2  # rolled up on the way
    assert any(rolled_up != last for last, rolled_up, _ in seen)  # and not every window
    assert max(waiting for *_, waiting in seen) < 60 + 40  # one window over the bound at most
    assert seen[-1][0] == seen[-1][1] == on_chain.head()
    assert database_snapshot() == at_once


@pytest.mark.django_db
def test_verify_lists_every_difference(on_chain):
    loop.run()
    active = Group.objects.filter(status="active").first()
    completed = Group.objects.filter(status="completed").first()
    Group.objects.filter(id=completed.id).update(status="active", member_count=1)
    paid_now = Contribution.objects.filter(group=active, round=active.current_round).first()
    paid_now.delete()
    Token.objects.update(total_paid_out=0)
    payer = Membership.objects.filter(contribution_count__gt=0).select_related("user").first()
    Membership.objects.filter(pk=payer.pk).update(contribution_count=99)
    receiver = User.objects.filter(payout_count__gt=0).first()
    User.objects.filter(pk=receiver.pk).update(total_received=1)
    # the event tables keep their relations without database constraints
    Contribution.objects.filter(pk=Contribution.objects.first().pk).update(member_id=10**9)

    differences = verify()

    assert f"group {completed.id}: status is 'active' in the database, 'completed' on chain" in (
        differences
    )
    assert any(
        line.startswith(f"group {completed.id}: member count is 1 in the database")
        for line in differences
    )
    assert any(
        line == f"group {active.id} round {paid_now.round}: member "
        f"{paid_now.member.checksum_address} paid on chain (hasContributed), the database "
        "has no contribution"
        for line in differences
    )
    assert any("the contract holds" in line for line in differences)
    assert "1 contributions point at a user that is not stored" in differences
    assert any(
        line.startswith(f"group {payer.group_id}: member {payer.user.checksum_address} has")
        and ", 99, " in line
        for line in differences
    )
    assert any(
        line.startswith(f"user {receiver.checksum_address}: (contributed, contributions, received")
        for line in differences
    )
    with pytest.raises(CommandError, match="difference"):
        call_command("verify_chain")


@pytest.mark.django_db
def test_from_block_reindexes_from_there_and_refuses_a_gap(on_chain):
    loop.run()
    full = database_snapshot()
    middle = (on_chain.deployment.block + on_chain.head()) // 2

    again = loop.run(from_block=middle)

    assert again.from_block == middle
    assert 0 < again.events < sum(on_chain.log_counts().values())
    assert database_snapshot() == full
    assert verify() == []
    with pytest.raises(SyncError, match="would skip blocks"):
        loop.run(from_block=on_chain.head() + 5)


@pytest.mark.django_db
def test_any_group_name_a_user_can_put_on_chain_is_indexed(on_chain):
    """The name is free text on chain: long, control characters, a NUL (which PostgreSQL
    cannot store), bytes that are not UTF-8. None of them may stop the sync."""
    from eth_abi import encode

    creator = on_chain.accounts[1]
    hostile = 'Tab\there, new\nline, back\\slash, "quoted", NUL\x00, Ọjà 🌍 ' + "x" * 300
    long_id = on_chain.create_group(creator, name=hostile)
    selector = on_chain.ajo.functions.createGroup(
        "n", on_chain.deployment.token, AMOUNT, DAY, 3
    )._encode_transaction_data()[:10]
    raw = encode(  # the ABI encodes a string as its bytes: these are not UTF-8
        ["bytes", "address", "uint256", "uint64", "uint16"],
        [b"Bad \xff\xfe bytes", on_chain.deployment.token, AMOUNT, DAY, 3],
    )
    tx = on_chain.w3.eth.send_transaction(
        {"from": creator, "to": on_chain.deployment.ajo, "data": selector + raw.hex()}
    )
    assert on_chain.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    bad_id = long_id + 1

    loop.run()

    stored = Group.objects.get(id=long_id)
    assert stored.name == hostile.replace("\x00", "\ufffd")
    assert str(stored) == f"#{long_id} {stored.name[:79]}…"  # links show the start
    assert Group.objects.get(id=bad_id).name == "Bad \ufffd\ufffd bytes"
    assert verify() == []


@pytest.mark.django_db
def test_extreme_group_settings_a_user_can_choose_are_indexed(on_chain, client):
    """uint16 members and a uint64 round length (centuries) are valid on chain: they must
    neither overflow a column nor a date, nor stop the sync."""
    a, b = on_chain.accounts[1], on_chain.accounts[2]
    on_chain.fund(a, b)
    crowd = on_chain.send(
        on_chain.ajo.functions.createGroup("Crowd", on_chain.deployment.token, 1, DAY, 65_535),
        a,
    )
    crowd_id = on_chain.ajo.events.GroupCreated().process_receipt(crowd)[0]["args"]["groupId"]
    forever = on_chain.send(
        on_chain.ajo.functions.createGroup(
            "Forever", on_chain.deployment.token, AMOUNT, 2**64 - 1, 2
        ),
        a,
    )
    forever_id = on_chain.ajo.events.GroupCreated().process_receipt(forever)[0]["args"]["groupId"]
    on_chain.join(forever_id, b)  # with its creator, full: round 1 starts, due in 2**64 - 1 s
    on_chain.contribute(forever_id, a)

    loop.run()

    assert Group.objects.get(id=crowd_id).max_members == 65_535
    group = Group.objects.get(id=forever_id)
    assert (group.frequency, group.status, group.current_round) == (2**64 - 1, "active", 1)
    assert group.next_deadline is None  # past the year 9999: no date to show
    assert not Contribution.objects.get(group=group).is_late
    assert verify() == []
    shown = client.get(f"/api/groups/{forever_id}/")
    assert shown.status_code == 200
    body = shown.json()
    # frequency is a uint64: a string in JSON
    assert (body["frequency"], body["next_deadline"]) == (str(2**64 - 1), None)
    assert (body["round"]["deadline"], body["round"]["is_overdue"]) == (None, False)


@pytest.mark.django_db
def test_a_deadline_on_the_first_second_of_year_10000_stops_nothing(on_chain, client):
    """datetime.max's float timestamp rounds up to 10000-01-01T00:00:00: a round due exactly
    then is past what a date can hold, and must show no deadline rather than fail the window."""
    a, b = on_chain.accounts[1], on_chain.accounts[2]
    on_chain.fund(a, b)
    start = on_chain.w3.eth.get_block("latest")["timestamp"] + 100
    first_of_10000 = 253_402_300_800
    receipt = on_chain.send(
        on_chain.ajo.functions.createGroup(
            "Millennium", on_chain.deployment.token, AMOUNT, first_of_10000 - start, 2
        ),
        a,
    )
    group_id = on_chain.ajo.events.GroupCreated().process_receipt(receipt)[0]["args"]["groupId"]
    on_chain.rpc.call("evm_setNextBlockTimestamp", [start])
    on_chain.join(group_id, b)  # fills the group: round 1 is due at start + frequency

    loop.run()

    group = Group.objects.get(id=group_id)
    assert (group.status, group.current_round, group.next_deadline) == ("active", 1, None)
    assert int(group.start_time.timestamp()) == start
    assert verify() == []
    body = client.get(f"/api/groups/{group_id}/").json()
    assert (body["next_deadline"], body["round"]["deadline"]) == (None, None)


@pytest.mark.django_db(transaction=True)  # PostgreSQL: the pipelined writer, as ops run it
def test_run_caches_that_start_over_past_their_bound_change_nothing(on_chain, monkeypatch):
    from groups.runstate import RunCache

    loop.run()
    whole = database_snapshot()
    monkeypatch.setattr(windows, "TARGET_LOGS", 20)  # many windows
    monkeypatch.setattr(RunCache, "MAX_IDS", 3)
    monkeypatch.setattr(RunCache, "MAX_GROUPS", 2)
    loop.run(reindex_first=True, batch_blocks=100_000)
    assert database_snapshot() == whole
    assert verify() == []
