"""Reads behind the group endpoints: the detail view's round and rotation in three queries."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from django.utils import timezone

from ajo.contract import rules
from groups.models import Group
from groups.selectors import group_list, group_members


class RoundPayments(Protocol):
    """Who paid one round of a group: {user_id: is_late}. Payments belong to contributions,
    which builds on groups: the composition root (ajo/urls.py) passes its selector in."""

    def __call__(self, *, group_id: int, round_number: int) -> dict[int, bool]: ...


@dataclass
class CurrentRound:
    number: int
    deadline: datetime | None
    is_overdue: bool
    payments_indexed: bool
    next_recipient: str | None = None
    paid: list[str] = field(default_factory=list)
    unpaid: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)


def group_detail(
    *,
    group_id: int,
    round_payments: RoundPayments,
    group_columns: Sequence[str],
    member_columns: Sequence[str],
    group: Group | None = None,
) -> Group | None:
    """The group with `.round` (CurrentRound) and `.rotation` (memberships in payout order,
    each with `.is_next` and `.round_status`) attached; None when the database lacks it.

    `group_columns` and `member_columns` are the `only()` paths of the group and of each seat
    (the view's serializers say which: a creator's or member's user row alone has 18 columns).
    """
    group = group or group_list().filter(id=group_id).only(*group_columns).first()
    if group is None:
        return None
    members = list(group_members(group_id=group.id).only(*member_columns))
    now = timezone.now()
    active = group.status == Group.Status.ACTIVE
    indexed = group.source == Group.Source.EVENTS
    deadline = group.next_deadline if active else None
    overdue = rules.is_overdue(
        deadline=int(deadline.timestamp()) if deadline is not None else None,
        now=now.timestamp(),
    )
    current = CurrentRound(
        number=group.current_round,
        deadline=deadline,
        is_overdue=overdue,
        payments_indexed=indexed,
    )
    paid_late: dict[int, bool] = {}
    if active and indexed:
        paid_late = round_payments(group_id=group.id, round_number=group.current_round)
    for membership in members:
        address = membership.user.address
        membership.is_next = active and membership.position == group.current_round - 1
        if membership.is_next:
            current.next_recipient = address
        membership.round_status = None
        if not (active and indexed):
            continue
        paid = membership.user_id in paid_late
        status = rules.member_round_status(
            paid=paid, late=paid_late.get(membership.user_id, False), overdue=overdue
        )
        membership.round_status = status
        (current.paid if paid else current.unpaid).append(address)
        if rules.behind(status):
            current.late.append(address)
    group.round = current
    group.rotation = members
    return group
