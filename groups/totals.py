"""Rebuilding counters and totals from the stored rows, for the rows a reorg revert or a
dropped view read changed (and, for users, the sync's roll-up): slower than the handlers'
incremental path, but it cannot drift. The sums of contributions and payouts are rebuilt by
contributions (contributions.totals); groups rebuilds what it derives from them."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, Sum

from ajo.db.bulk import bulk_update, chunks, save_fields, sql_uint256_sum
from ajo.fields import Uint256Sum
from groups.models import Group, Membership, Token, User
from groups.runstate import groups_by_id
from groups.services import GROUP_STATE_FIELDS, group_apply_derived_state


@dataclass
class Touched:
    """What a revert's deletes touched, for the rebuilds after them (a revert note)."""

    group_ids: set[int] = field(default_factory=set)
    user_ids: set[int] = field(default_factory=set)
    token_ids: set[int] = field(default_factory=set)


@transaction.atomic
def group_rebuild_state(*, group_ids: Iterable[int]) -> None:
    """Rebuild these groups' member counts from their memberships, and the state they derive
    from their counters (group_apply_derived_state), after a reorg removed rows. The sums of
    contributions and payouts are rebuilt before, by the app that owns those rows."""
    groups = groups_by_id(group_ids)
    if not groups:
        return
    for group in groups.values():
        group.member_count = 0
    for part in chunks(sorted(groups)):
        counts = (
            Membership.objects.filter(group_id__in=part)
            .values("group_id")
            .annotate(n=Count("id"))
            .values_list("group_id", "n")
            .order_by()
        )
        for group_id, n in counts:
            groups[group_id].member_count = n
    for group in groups.values():
        group_apply_derived_state(group)
    save_fields(Group, groups.values(), ["member_count", *GROUP_STATE_FIELDS])


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


def user_recompute_selected(*, users_sql: str, params: list) -> None:
    """user_recompute_many for the users a subquery names (`users_sql` selects their ids as
    `user_id`), as one UPDATE … FROM (SELECT … GROUP BY): the same sums, computed and written
    inside the database. The sync's roll-up closes every catch-up with it, in the last
    window's transaction, where reading every touched user's sums into Python and sending
    them back was half the roll-up's time. A user the subquery names without memberships
    gets zeros, as in user_recompute_many."""
    users, memberships = User._meta.db_table, Membership._meta.db_table
    paid = sql_uint256_sum("m.total_contributed")
    received = sql_uint256_sum("m.payout_amount")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {users} SET
                total_contributed = d.paid,
                contribution_count = d.payments,
                total_received = d.received,
                payout_count = d.payouts,
                group_count = d.groups
            FROM (
                SELECT t.user_id, COALESCE({paid}, 0) AS paid,
                    COALESCE(SUM(m.contribution_count), 0) AS payments,
                    COALESCE({received}, 0) AS received,
                    COUNT(m.payout_round) AS payouts, COUNT(m.id) AS groups
                FROM ({users_sql}) AS t
                LEFT JOIN {memberships} AS m ON m.user_id = t.user_id
                GROUP BY t.user_id
            ) AS d
            WHERE {users}.id = d.user_id
            """,  # noqa: S608 (table names from the models, values as parameters)
            params,
        )


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
