"""Rebuilding counters and totals from the stored rows, for the rows a reorg revert or a
dropped view read changed (and, for users, the sync's roll-up): slower than the handlers'
incremental path, but it cannot drift."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, Sum

from ajo.db.bulk import bulk_update, chunks, save_fields
from ajo.fields import Uint256Sum
from groups.models import Group, Membership, Token, User
from groups.runstate import groups_by_id
from groups.services import GROUP_STATE_FIELDS, group_apply_derived_state


@transaction.atomic
def group_recompute_many(*, group_ids: Iterable[int]) -> None:
    """Rebuild every counter and total of these groups, their members and users from the rows.

    Used after a reorg removed rows: slower than the incremental path (it reads all of the
    groups' contributions), but it cannot drift. Amounts are summed in Python so uint256
    stays exact on SQLite too.
    """
    # Inside the function because groups does not build on contributions: this rebuild of
    # the contribution and payout sums is to move to contributions, and the edge with it.
    from contributions.models import Contribution, Payout

    groups = groups_by_id(group_ids)
    if not groups:
        return
    ids = sorted(groups)
    memberships: dict[tuple[int, int], Membership] = {}
    for part in chunks(ids):
        for membership in Membership.objects.filter(group_id__in=part):
            membership.total_contributed = 0
            membership.contribution_count = 0
            membership.payout_round = None
            membership.payout_amount = None
            memberships[(membership.group_id, membership.user_id)] = membership
    for group in groups.values():
        group.member_count = 0
        group.total_contributed = 0
        group.contribution_count = 0
        group.total_paid_out = 0
        group.payout_count = 0
    for membership in memberships.values():
        groups[membership.group_id].member_count += 1
    for part in chunks(ids):
        rows = Contribution.objects.filter(group_id__in=part).values_list(
            "group_id", "member_id", "amount"
        )
        for group_id, member_id, amount in rows.iterator(chunk_size=5000):
            group = groups[group_id]
            group.total_contributed += amount
            group.contribution_count += 1
            membership = memberships.get((group_id, member_id))
            if membership is not None:
                membership.total_contributed += amount
                membership.contribution_count += 1
        payouts = Payout.objects.filter(group_id__in=part).values_list(
            "group_id", "recipient_id", "round", "amount"
        )
        for group_id, recipient_id, round_number, amount in payouts:
            group = groups[group_id]
            group.total_paid_out += amount
            group.payout_count += 1
            membership = memberships.get((group_id, recipient_id))
            if membership is not None:
                membership.payout_round = round_number
                membership.payout_amount = amount
    for group in groups.values():
        group_apply_derived_state(group)
    save_fields(
        Group,
        groups.values(),
        [
            "member_count",
            "total_contributed",
            "contribution_count",
            "total_paid_out",
            "payout_count",
            *GROUP_STATE_FIELDS,
        ],
    )
    save_fields(
        Membership,
        memberships.values(),
        ["total_contributed", "contribution_count", "payout_round", "payout_amount"],
    )


_USER_TOTALS = [
    "total_contributed",
    "contribution_count",
    "total_received",
    "payout_count",
    "group_count",
]


def user_recompute_many(*, user_ids: Iterable[int]) -> None:
    """Set users' totals to the sums of their memberships, which hold every payment a wallet
    makes or receives (the contract takes and pays members only), and their group count.

    The one definition of a user's totals: the sync's roll-up calls it for the users it
    touched, a revert for the users it changed (after their memberships were rebuilt). One
    aggregate query and one update per chunk of users."""
    ids = sorted(set(user_ids))
    for part in chunks(ids):
        sums = {
            user_id: (paid, payments, received or 0, payouts, groups)
            for user_id, paid, payments, received, payouts, groups in Membership.objects.filter(
                user_id__in=part
            )
            .values("user_id")
            .annotate(
                paid=Uint256Sum("total_contributed"),
                payments=Sum("contribution_count"),
                received=Uint256Sum("payout_amount"),
                payouts=Count("payout_round"),
                groups=Count("id"),
            )
            .values_list("user_id", "paid", "payments", "received", "payouts", "groups")
            .order_by()
        }
        nothing = (0, 0, 0, 0, 0)
        bulk_update(User, _USER_TOTALS, [(i, *sums.get(i, nothing)) for i in part])


def token_recompute_many(*, token_ids: Iterable[int]) -> None:
    """Rebuild tokens' totals from their groups' totals (after a reorg)."""
    tokens = Token.objects.in_bulk(sorted(set(token_ids)))
    for token in tokens.values():
        token.total_contributed = 0
        token.total_paid_out = 0
        token.contribution_count = 0
        token.group_count = 0
    rows = Group.objects.filter(token_id__in=list(tokens)).values_list(
        "token_id", "total_contributed", "total_paid_out", "contribution_count"
    )
    for token_id, contributed, paid_out, count in rows:
        token = tokens[token_id]
        token.total_contributed += contributed
        token.total_paid_out += paid_out
        token.contribution_count += count
        token.group_count += 1
    save_fields(
        Token,
        tokens.values(),
        ["total_contributed", "total_paid_out", "contribution_count", "group_count"],
    )
