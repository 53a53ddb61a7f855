"""The engine's door: handlers in the contract's emission order, reverts in the order the apps
build on each other, run state reset by the engine, and a planned window that cannot write
around its sink."""

import pytest
from django.db import connection

from ajo.contract.events import GroupStarted
from ajo.engine import loop, registry, windows
from ajo.engine.errors import SyncError
from ajo.engine.verify import verify
from devtools.chainkit import database_snapshot, private_chain, rewound
from groups.handlers import GROUPS_RUN
from groups.models import Group


def test_handlers_run_in_the_contracts_emission_order():
    assert registry.event_names() == [
        "GroupCreated",
        "MemberJoined",
        "GroupStarted",
        "ContributionMade",
        "PayoutSent",
        "GroupCompleted",
    ]


def test_an_app_reverts_before_the_app_it_builds_on():
    order = [delete.__module__ for delete, _ in reversed(registry._revert_hooks)]
    assert order == ["contributions.handlers", "groups.handlers"]
    # the rows and their sums are checked before the state groups derives from the sums
    checks = [check.__module__ for check in registry.database_checks()]
    assert checks == ["contributions.checks", "groups.checks"]


def test_a_run_resets_every_apps_state_and_each_run_has_its_own():
    run, other = registry.Run(), registry.Run()
    cache = GROUPS_RUN.of(run)
    cache.users["0xabc"] = 7
    assert GROUPS_RUN.of(run) is cache
    assert GROUPS_RUN.of(other).users == {}
    run.reset()
    assert cache.users == {}


@pytest.fixture(scope="module")
def chain():
    with private_chain(groups=4, members=3, rounds=3, seed=5, late_ratio=0.2) as chain:
        yield chain


@pytest.fixture
def on_chain(chain, settings):
    with rewound(chain, settings):
        yield chain


@pytest.mark.django_db(transaction=True)  # PostgreSQL: the pipelined writer
def test_a_planned_window_that_writes_around_its_sink_stops_the_sync(on_chain, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the pipelined writer runs on PostgreSQL")
    handler = registry._handlers[GroupStarted]

    def writes_at_once(*, events, window):
        Group.objects.filter(id__in=[e.group_id for e in events]).update(name="at once")
        return handler(events=events, window=window)

    monkeypatch.setattr(windows, "TARGET_LOGS", 10)  # many windows: most are planned
    monkeypatch.setitem(registry._handlers, GroupStarted, writes_at_once)
    with pytest.raises(SyncError, match="a write while planning a window"):
        loop.run(batch_blocks=100_000)


@pytest.mark.django_db(transaction=True)
def test_a_revert_rebuilds_what_both_apps_derive(on_chain):
    """Reverted halfway and indexed again: every sum and state as one pass makes them."""
    loop.run()
    whole = database_snapshot()
    middle = (on_chain.deployment.block + on_chain.head()) // 2
    loop.run(from_block=middle)  # reverts every row above middle - 1, then indexes them again
    assert database_snapshot() == whole
    assert verify() == []
