"""A window the database refuses: one line naming the block and event, the checkpoint kept,
the failure shown in the sync state, the API and the metrics; --follow backs off and goes on
once the window goes through.

The refusal is real: a trigger in the test database rejects one contribution row, the way a
constraint, a bug or a full disk would make a window fail on every attempt.
"""

import itertools
import logging
import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from prometheus_client import REGISTRY

from ajo.engine import loop
from ajo.engine.errors import SyncError
from ajo.engine.verify import verify
from ajo.models import SyncState
from contributions.models import Contribution, Payout
from devtools.chainkit import manage, point_settings_at, private_chain
from groups.models import Group, Membership
from groups.tests.factories import StaffFactory


@pytest.fixture(scope="module")
def chain():
    """One group of three paying three rounds: a contribution in most blocks."""
    with private_chain() as chain:
        a, b, c = chain.accounts[1:4]
        chain.fund(a, b, c)
        group_id = chain.create_group(a, max_members=3)
        chain.join(group_id, b)
        chain.join(group_id, c)
        chain.blocks = {}
        for round_number in (1, 2, 3):
            for member in (a, b, c):
                receipt = chain.contribute(group_id, member)
                chain.blocks[(round_number, member)] = receipt["blockNumber"]
        chain.refused = chain.blocks[(2, a)]  # the first payment of round 2
        yield chain


@pytest.fixture
def on_chain(chain, settings):
    point_settings_at(settings, chain)
    return chain


@pytest.fixture
def refusing_database(on_chain):
    """A trigger that rejects the contribution of one block, dropped afterwards."""
    block = on_chain.refused
    table = Contribution._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION ajo_test_refuse() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.block_number = {block} THEN "
                "RAISE EXCEPTION 'contribution refused by the test trigger'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER ajo_test_refuse BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ajo_test_refuse()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER ajo_test_refuse BEFORE INSERT ON {table} "
                f"WHEN NEW.block_number = {block} "
                "BEGIN SELECT RAISE(ABORT, 'contribution refused by the test trigger'); END"
            )

    def lift():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS ajo_test_refuse ON {table}")
                cursor.execute("DROP FUNCTION IF EXISTS ajo_test_refuse()")
            else:
                cursor.execute("DROP TRIGGER IF EXISTS ajo_test_refuse")

    try:
        yield lift
    finally:
        lift()


def metric(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


def assert_nothing_above_checkpoint(state: SyncState) -> None:
    assert not Contribution.objects.filter(block_number__gt=state.last_block).exists()
    assert not Payout.objects.filter(block_number__gt=state.last_block).exists()
    assert not Membership.objects.filter(joined_block__gt=state.last_block).exists()
    assert not Group.objects.filter(created_block__gt=state.last_block).exists()


# Transactional: on PostgreSQL the sync runs pipelined (the refusal comes up in the writer
# thread first), and the manage.py subprocess sees the trigger.
@pytest.mark.django_db(transaction=True)
def test_a_window_that_fails_stops_the_run_with_one_line_and_keeps_the_checkpoint(
    on_chain, refusing_database, client, admin_roles
):
    refused = on_chain.refused
    process = manage("sync_chain", chain=on_chain)
    _, err = process.communicate(timeout=120)

    assert process.returncode != 0
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    state = SyncState.objects.get()
    assert f"(block {refused}, ContributionMade)" in line
    assert "contribution refused by the test trigger" in line
    assert f"checkpoint kept at block {state.last_block}" in line
    assert state.last_block < refused
    assert_nothing_above_checkpoint(state)
    assert (state.failure_block, state.failure_event, state.failure_attempts) == (
        refused,
        "ContributionMade",
        1,
    )
    assert state.failure_retry_at is None  # without --follow nothing retries it

    # in process too, with the metrics; the same block again counts a second attempt
    with pytest.raises(SyncError, match=f"block {refused}, ContributionMade"):
        loop.run()
    assert metric("ajo_sync_window_failing") == 1
    assert metric("ajo_sync_failed_block") == refused
    state = SyncState.objects.get()
    assert state.failure_attempts == 2
    assert_nothing_above_checkpoint(state)

    shown = client.get("/api/sync/").json()
    assert shown["indexed_block"] == state.last_block
    failure = shown["failure"]
    assert (failure["block"], failure["event"], failure["attempts"]) == (
        refused,
        "ContributionMade",
        2,
    )
    assert "contribution refused by the test trigger" in failure["message"]
    staff = Client()
    staff.force_login(StaffFactory(is_superuser=True))
    for url in (reverse("admin:ajo_syncstate_changelist"), reverse("admin:index")):
        page = staff.get(url).content.decode()
        assert f"block {refused}, ContributionMade" in page, url

    refusing_database()  # the cause goes away: the window commits, the failure is cleared
    loop.run()
    state = SyncState.objects.get()
    assert state.last_block == on_chain.head()
    assert (state.failure, state.failure_block, state.failure_attempts) == ("", None, 0)
    assert client.get("/api/sync/").json()["failure"] is None
    assert metric("ajo_sync_window_failing") == 0
    assert verify() == []


class Attempts(logging.Handler):
    """The sync's failure log lines, with when they were written."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.mark.django_db(transaction=True)
def test_follow_backs_off_on_a_failing_window_and_goes_on_once_it_commits(
    on_chain, refusing_database
):
    attempts = Attempts()
    logger = logging.getLogger("ajo.sync")
    logger.addHandler(attempts)
    stop = threading.Event()
    errors = []

    def follow():
        try:
            loop.run(follow=True, poll_interval=0.05, retry_base=0.1, retry_max=0.4, stop=stop)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=follow)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while len(attempts.records) < 5 and time.monotonic() < deadline and worker.is_alive():
            time.sleep(0.05)
        assert len(attempts.records) >= 5, errors
        messages = [record.getMessage() for record in attempts.records[:5]]
        assert all(f"block {on_chain.refused}, ContributionMade" in m for m in messages)
        # one line per attempt, each after a longer pause: 0.1 s doubling, at most 0.4 s
        assert [m.rsplit("next in ", 1)[1] for m in messages] == [
            "0.1 s",
            "0.2 s",
            "0.4 s",
            "0.4 s",
            "0.4 s",
        ]
        times = [record.created for record in attempts.records[:5]]
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert all(gap >= pause for gap, pause in zip(gaps, [0.1, 0.2, 0.4, 0.4], strict=True))
        assert SyncState.objects.get().failure_attempts >= 5
        assert SyncState.objects.get().failure_retry_at is not None
        assert worker.is_alive()  # still the writer, still holding the lock

        refusing_database()
        while time.monotonic() < deadline:
            state = SyncState.objects.get()
            if state.last_block == on_chain.head() and not state.failure_attempts:
                break
            time.sleep(0.05)
        assert (state.last_block, state.failure, state.failure_attempts) == (
            on_chain.head(),
            "",
            0,
        )
        assert metric("ajo_sync_window_failing") == 0
    finally:
        stop.set()
        worker.join(timeout=30)
        logger.removeHandler(attempts)
    assert errors == []
    assert verify() == []
