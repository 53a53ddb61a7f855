"""sync_chain as ops run it, in subprocesses: SIGKILL and resume, follow mode, SIGTERM, a
hot standby taking over from a killed writer."""

import signal
import time

import pytest

from ajo.engine import loop
from ajo.engine.verify import verify
from ajo.models import SyncState
from contributions.models import Contribution
from devtools.chainkit import (
    OutputWatcher,
    database_snapshot,
    kill,
    manage,
    private_chain,
    rewound,
)
from devtools.faultproxy import FaultProxy
from groups.models import Membership

POLL = 0.5


@pytest.fixture(scope="module")
def chain():
    with private_chain(groups=10, members=4, rounds=4, seed=11) as chain:
        yield chain


@pytest.fixture
def on_chain(chain, settings):
    with rewound(chain, settings):
        yield chain


def wait_for(condition, *, timeout: float, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s")


def checkpoint() -> int | None:
    state = SyncState.objects.filter(pk=1).first()
    return state.last_block if state else None


def assert_rows_match_checkpoint() -> None:
    """A killed sync leaves whole windows: no row above the checkpoint, none missing below."""
    last = checkpoint()
    if last is None:
        assert not Contribution.objects.exists()
        return
    assert not Contribution.objects.filter(block_number__gt=last).exists()
    assert not Membership.objects.filter(joined_block__gt=last).exists()


@pytest.mark.django_db(transaction=True)
def test_sigkill_at_any_moment_then_resume_equals_one_run(on_chain):
    # A slow provider that allows only 2-block getLogs ranges: many small windows, each
    # taking a while, so every kill lands in the middle of the work.
    proxy = FaultProxy(on_chain.url)
    proxy.delay = 0.05
    proxy.max_log_range = 2
    head = on_chain.head()
    try:
        seen = []
        for _ in range(3):
            before = checkpoint()
            process = manage("sync_chain", chain=on_chain, rpc_url=proxy.url)
            wait_for(lambda b=before: (checkpoint() or 0) > (b or 0), timeout=60, every=0.01)
            kill(process)  # SIGKILL as soon as a window landed: no cleanup of any kind
            assert_rows_match_checkpoint()
            # the database agrees with the chain at its checkpoint; at most, member and user
            # totals wait for the roll-up that the next run's end does
            assert not [
                line
                for line in verify()
                if not line.startswith("membership and user totals are rolled up to block")
            ]
            seen.append(checkpoint())
        assert seen == sorted(seen) and seen[-1] < head, seen

        finish = manage("sync_chain", "--json", chain=on_chain, rpc_url=proxy.url)
        _, err = finish.communicate(timeout=180)
        assert finish.returncode == 0, err
    finally:
        proxy.close()
    resumed = database_snapshot()
    assert checkpoint() == head
    assert verify() == []

    loop.run(reindex_first=True)  # one uninterrupted run over the same chain
    assert database_snapshot() == resumed


@pytest.mark.django_db(transaction=True)
def test_follow_indexes_new_blocks_handles_a_tip_reorg_and_stops_on_sigterm(on_chain):
    a, b = on_chain.accounts[1], on_chain.accounts[2]
    on_chain.fund(a, b)
    group_id = on_chain.create_group(a, max_members=2)
    on_chain.join(group_id, b)

    process = manage("sync_chain", "--follow", "--poll-interval", str(POLL), chain=on_chain)
    try:
        wait_for(lambda: checkpoint() == on_chain.head(), timeout=30)

        fork = on_chain.snapshot()
        receipt = on_chain.contribute(group_id, a)
        mined = time.monotonic()
        wait_for(lambda: Contribution.objects.filter(group_id=group_id).exists(), timeout=10)
        assert time.monotonic() - mined < POLL + 1.5  # one poll interval plus commit time
        assert checkpoint() >= receipt["blockNumber"]

        on_chain.revert(fork)  # the tip block with the contribution is orphaned
        on_chain.mine(2)
        wait_for(lambda: not Contribution.objects.filter(group_id=group_id).exists(), timeout=10)
        wait_for(lambda: checkpoint() == on_chain.head(), timeout=10)
        assert SyncState.objects.get().reorg_count >= 1
    finally:
        kill(process, signal.SIGTERM)
    _, err = process.communicate()
    assert process.returncode == 0, err
    assert "stopping after the current batch" in err
    assert "Traceback" not in err
    assert verify() == []


@pytest.mark.django_db(transaction=True)
def test_hot_standby_takes_over_from_a_killed_writer(on_chain):
    first = manage("sync_chain", "--follow", "--poll-interval", str(POLL), chain=on_chain)
    first_log = OutputWatcher(first)
    wait_for(lambda: checkpoint() == on_chain.head(), timeout=30)
    assert first_log.saw("holding the writer lock")
    second = manage("sync_chain", "--follow", "--poll-interval", str(POLL), chain=on_chain)
    second_log = OutputWatcher(second)
    try:
        wait_for(lambda: second_log.saw("standing by"), timeout=30)
        assert first.poll() is None

        kill(first)  # kill -9 the writer
        killed_at = time.monotonic()
        wait_for(lambda: second_log.saw("holding the writer lock"), timeout=2 * POLL + 2.0)
        assert time.monotonic() - killed_at < 2 * POLL + 2.0

        a, b = on_chain.accounts[3], on_chain.accounts[4]
        on_chain.fund(a, b)
        group_id = on_chain.create_group(a, max_members=2)
        on_chain.join(group_id, b)
        wait_for(lambda: Membership.objects.filter(group_id=group_id).count() == 2, timeout=15)
        wait_for(lambda: checkpoint() == on_chain.head(), timeout=10)
    finally:
        kill(second, signal.SIGTERM)
    assert second.returncode == 0, second_log.text
    assert "Traceback" not in second_log.text
    assert verify() == []


@pytest.mark.django_db(transaction=True)
def test_command_errors_are_one_line_without_traceback(on_chain):
    process = manage("sync_chain", chain=on_chain, extra_env={"AJO_CONTRACT_ADDRESS": "nonsense"})
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if "AJO_CONTRACT_ADDRESS is invalid" in line]

    process = manage("sync_chain", "--batch-blocks", "-3", chain=on_chain)
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "--batch-blocks" in err and "Traceback" not in err
