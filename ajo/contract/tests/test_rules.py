"""The contract's rules at their edges: the deadline second, round 0, frequency 0 and beyond
year 9999."""

from datetime import UTC, datetime

import pytest

from ajo.contract import rules
from ajo.contract.rules import GroupState
from groups.models import Group

START = 1_700_000_000
DAY = 86_400
END_OF_9999 = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


def test_round_deadline_is_start_plus_rounds_of_frequency():
    assert rules.round_deadline(start_time=START, round_number=3, frequency=DAY) == START + 3 * DAY
    assert rules.round_deadline(start_time=START, round_number=0, frequency=DAY) == START
    assert rules.round_deadline(start_time=START, round_number=5, frequency=0) == START


def test_round_deadline_has_no_date_past_year_9999():
    assert rules.LAST_SECOND == END_OF_9999
    last = END_OF_9999 - START
    assert rules.round_deadline(start_time=START, round_number=1, frequency=last) == END_OF_9999
    assert rules.round_deadline(start_time=START, round_number=1, frequency=last + 1) is None
    assert rules.round_deadline(start_time=START, round_number=2**32 - 1, frequency=2**64 - 1) is (
        None
    )


@pytest.mark.parametrize(
    ("block_time", "late"),
    [(START + DAY - 1, False), (START + DAY, False), (START + DAY + 1, True)],
)
def test_a_payment_mined_at_the_deadline_second_is_on_time(block_time, late):
    assert (
        rules.is_late(block_time=block_time, start_time=START, round_number=1, frequency=DAY)
        is late
    )


def test_lateness_is_exact_where_the_deadline_has_no_date():
    huge = 2**64 - 1
    assert not rules.is_late(
        block_time=START + 10**9, start_time=START, round_number=1, frequency=huge
    )
    # frequency 0: every round is due at the start, so anything after it is late
    assert rules.is_late(block_time=START + 1, start_time=START, round_number=4, frequency=0)
    assert not rules.is_late(block_time=START, start_time=START, round_number=4, frequency=0)


def test_overdue_only_after_the_deadline():
    assert not rules.is_overdue(deadline=START, now=START)
    assert rules.is_overdue(deadline=START, now=START + 0.5)
    assert not rules.is_overdue(deadline=None, now=END_OF_9999 + 1)


def _counts(**overrides):
    values = {
        "started_at": START,
        "completed": False,
        "member_count": 4,
        "max_members": 4,
        "contribution_count": 0,
        "payout_count": 0,
        "frequency": DAY,
    }
    return rules.group_state_from_counts(**{**values, **overrides})


def test_group_state_from_the_event_counters():
    assert _counts(started_at=None, member_count=2) == GroupState("forming", 0, None, 0)
    assert _counts() == GroupState("active", 1, START + DAY, 0)
    # two rounds paid out, three of four paid in round 3
    assert _counts(contribution_count=11, payout_count=2) == GroupState(
        "active", 3, START + 3 * DAY, 3
    )
    assert _counts(completed=True, contribution_count=16, payout_count=4) == GroupState(
        "completed", 4, None, 0
    )


def test_group_state_round_never_passes_the_last_seat_and_survives_huge_frequencies():
    # the last payout and the completion come in one tx; between handlers, round stays at 4
    assert _counts(contribution_count=16, payout_count=4).current_round == 4
    assert _counts(frequency=2**64 - 1) == GroupState("active", 1, None, 0)
    assert _counts(frequency=0).next_deadline == START


def test_group_state_from_a_view_read():
    view = {"current_round": 2, "start_time": START, "frequency": DAY}
    assert rules.group_state_from_view(is_active=True, is_completed=False, **view) == GroupState(
        "active", 2, START + 2 * DAY, 0
    )
    assert rules.group_state_from_view(is_active=False, is_completed=True, **view) == GroupState(
        "completed", 2, None, 0
    )
    assert rules.group_state_from_view(
        is_active=False, is_completed=False, current_round=0, start_time=0, frequency=DAY
    ) == GroupState("forming", 0, None, 0)
    huge = {"current_round": 1, "start_time": START, "frequency": 2**64 - 1}
    assert rules.group_state_from_view(
        is_active=True, is_completed=False, **huge
    ).next_deadline is (None)


def test_round_is_open_only_for_the_current_round_of_an_active_group():
    assert rules.round_is_open(status="active", current_round=2, round_number=2)
    assert not rules.round_is_open(status="active", current_round=2, round_number=1)
    assert not rules.round_is_open(status="completed", current_round=2, round_number=2)
    assert not rules.round_is_open(status="forming", current_round=0, round_number=0)


@pytest.mark.parametrize(
    ("paid", "late", "overdue", "status", "paid_late", "behind"),
    [
        (True, False, False, "paid", False, False),
        (True, False, True, "paid", False, False),
        (True, True, True, "paid_late", True, True),
        (False, False, False, "due", False, False),
        (False, False, True, "overdue", False, True),
    ],
)
def test_member_round_status_and_its_two_meanings_of_late(
    paid, late, overdue, status, paid_late, behind
):
    got = rules.member_round_status(paid=paid, late=late, overdue=overdue)
    assert got == status
    assert rules.paid_late(got) is paid_late  # the admin's late payments
    assert rules.behind(got) is behind  # the API's late members


def test_status_strings_are_the_models():
    assert {rules.FORMING, rules.ACTIVE, rules.COMPLETED} == set(Group.Status.values)
