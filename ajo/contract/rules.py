"""The contract's rules of time and state, once: deadlines, lateness, a group's derived state
and a member's standing in a round. Pure functions of ints and strings (unix seconds), no
Django, so services, the API, the admin, the reader and the benchmark dataset agree.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

# Status strings, equal to groups.models.Group.Status values.
FORMING = "forming"
ACTIVE = "active"
COMPLETED = "completed"

# A member's standing in a group's current round.
PAID = "paid"
PAID_LATE = "paid_late"
DUE = "due"
OVERDUE = "overdue"

# The last whole second Python's datetime can hold (the end of year 9999, UTC). Not
# datetime.max.timestamp(): its microseconds round that float up to year 10000's first second.
LAST_SECOND = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


def round_deadline(*, start_time: int, round_number: int, frequency: int) -> int | None:
    """When a round's payments are due: start + round * frequency. None past the end of
    year 9999: a round length of centuries is valid on chain, but has no date to show."""
    seconds = start_time + round_number * frequency
    return seconds if seconds <= LAST_SECOND else None


def is_late(*, block_time: int, start_time: int, round_number: int, frequency: int) -> bool:
    """A contribution mined after its round's deadline. Compared exactly (not through
    round_deadline): a deadline past year 9999 is never missed, and needs no date for that."""
    return block_time > start_time + round_number * frequency


def is_overdue(*, deadline: int | None, now: float) -> bool:
    """Past the deadline (`now` may carry a fraction of a second); no deadline, never."""
    return deadline is not None and now > deadline


@dataclass(frozen=True, slots=True)
class GroupState:
    status: str
    current_round: int
    next_deadline: int | None
    paid_this_round: int


def group_state_from_counts(
    *,
    started_at: int | None,
    completed: bool,
    member_count: int,
    max_members: int,
    contribution_count: int,
    payout_count: int,
    frequency: int,
) -> GroupState:
    """A group's state from the counters its events moved.

    The contract pays out once every member has paid, so each payout closes one round: an
    active group is in round payouts + 1, and has had `contributions - payouts * members`
    payments so far in it. A completed group stays at its last round (= its member count).
    """
    if completed:
        return GroupState(COMPLETED, member_count, None, 0)
    if started_at is None:
        return GroupState(FORMING, 0, None, 0)
    current_round = min(payout_count + 1, max_members)
    return GroupState(
        ACTIVE,
        current_round,
        round_deadline(start_time=started_at, round_number=current_round, frequency=frequency),
        max(contribution_count - payout_count * member_count, 0),
    )


def group_status_from_view(*, is_active: bool, is_completed: bool) -> str:
    if is_completed:
        return COMPLETED
    return ACTIVE if is_active else FORMING


def group_state_from_view(
    *, is_active: bool, is_completed: bool, current_round: int, start_time: int, frequency: int
) -> GroupState:
    """A group's state as getGroup reports it (start_time 0: not started). A view tells no
    payments, so paid_this_round is 0: only the events count them."""
    status = group_status_from_view(is_active=is_active, is_completed=is_completed)
    deadline = (
        round_deadline(start_time=start_time, round_number=current_round, frequency=frequency)
        if start_time and status == ACTIVE
        else None
    )
    return GroupState(status, current_round, deadline, 0)


def round_is_open(*, status: str, current_round: int, round_number: int) -> bool:
    """The round members are paying into now: the current round of an active group."""
    return status == ACTIVE and round_number == current_round


def member_round_status(*, paid: bool, late: bool, overdue: bool) -> str:
    """paid | paid_late (paid after the deadline) | due | overdue (unpaid past it)."""
    if paid:
        return PAID_LATE if late else PAID
    return OVERDUE if overdue else DUE


# "Late" means two things, both named from member_round_status:
def paid_late(status: str) -> bool:
    """A late payment: what the admin's round table counts as late (Contribution.is_late)."""
    return status == PAID_LATE


def behind(status: str) -> bool:
    """Late in the round, paid or not: what the API lists as a round's `late` members."""
    return status in (PAID_LATE, OVERDUE)
