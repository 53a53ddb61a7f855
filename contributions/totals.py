"""Contributions' and payouts' sums, from the stored rows: rolled up into memberships and
users as the sync goes (totals_roll_up), and rebuilt for the groups a reorg revert touched
(group_totals_rebuild).

Membership and user totals (and the payout flags) are rolled up from the stored rows by
`totals_roll_up` over a block range: one UPDATE … FROM (SELECT … GROUP BY) per table. A user
pays into many windows of a long sync, and rolling up once at the end of a catch-up updates
each of those rows once instead of once per window, which was a third of the sync's database
time. The sync decides when (see ajo.engine.loop: SyncState.rolled_up_block).
"""

from collections.abc import Iterable

from django.db import connection, transaction

from ajo.db.bulk import chunks, save_fields, sql_uint256_add, sql_uint256_sum
from contributions.models import Contribution, Payout
from groups.models import Group, Membership
from groups.totals import user_recompute_selected

_GROUP_SUMS = ["total_contributed", "contribution_count", "total_paid_out", "payout_count"]
_MEMBERSHIP_SUMS = ["total_contributed", "contribution_count", "payout_round", "payout_amount"]


@transaction.atomic
def group_totals_rebuild(*, group_ids: Iterable[int]) -> None:
    """Rebuild the sums of contributions and payouts of these groups and their members from
    the rows (groups.totals.group_rebuild_state then derives each group's state from them).

    Used after a reorg removed rows: slower than the incremental path (it reads all of the
    groups' contributions), but it cannot drift. Amounts are summed in Python so uint256
    stays exact on SQLite too.
    """
    ids = sorted(set(group_ids))
    groups: dict[int, Group] = {}
    for part in chunks(ids):
        groups.update((group.id, group) for group in Group.objects.filter(id__in=part))
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
        group.total_contributed = 0
        group.contribution_count = 0
        group.total_paid_out = 0
        group.payout_count = 0
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
    save_fields(Group, groups.values(), _GROUP_SUMS)
    save_fields(Membership, memberships.values(), _MEMBERSHIP_SUMS)


def totals_roll_up(*, after_block: int, through_block: int, tx_hash: str | None = None) -> None:
    """Roll the contributions and payouts of blocks (after_block, through_block], or of one
    transaction in that range, up into their memberships (totals, payout flags) and users.

    Each row must be rolled up exactly once: the caller keeps track (the sync with
    SyncState.rolled_up_block, tx ingest for the rows it has just inserted). Memberships gain
    the sums of their new rows, contributions and payouts in one statement, so each row is
    rewritten once (in place: see groups migration 0005); then the users touched are set to
    the sums of their memberships (groups.totals.user_recompute_selected).
    """
    where = "block_number > %s AND block_number <= %s" + (" AND tx_hash = %s" if tx_hash else "")
    params = [after_block, through_block, *([tx_hash] if tx_hash else [])]
    memberships = Membership._meta.db_table
    contributions, payouts = Contribution._meta.db_table, Payout._meta.db_table
    paid_total = sql_uint256_add(f"{memberships}.total_contributed", "COALESCE(d.paid, 0)")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {memberships} SET
                total_contributed = {paid_total},
                contribution_count = {memberships}.contribution_count + d.payments,
                payout_round = COALESCE(d.payout_round, {memberships}.payout_round),
                payout_amount = COALESCE(d.payout_amount, {memberships}.payout_amount)
            FROM (
                SELECT group_id, user_id, {sql_uint256_sum("paid")} AS paid,
                    COUNT(paid) AS payments,
                    MAX(payout_round) AS payout_round,  -- one payout per member and group
                    MAX(payout_amount) AS payout_amount
                FROM (
                    SELECT group_id, member_id AS user_id, amount AS paid,
                        NULL AS payout_round, NULL AS payout_amount
                    FROM {contributions} WHERE {where}
                    UNION ALL
                    SELECT group_id, recipient_id, NULL, round, amount
                    FROM {payouts} WHERE {where}
                ) AS new_rows
                GROUP BY group_id, user_id
            ) AS d
            WHERE {memberships}.group_id = d.group_id AND {memberships}.user_id = d.user_id
            """,  # noqa: S608 (table names from the models, values as parameters)
            params * 2,
        )
    user_recompute_selected(
        users_sql=(
            f"SELECT member_id AS user_id FROM {contributions} WHERE {where} "  # noqa: S608
            f"UNION SELECT recipient_id FROM {payouts} WHERE {where}"
        ),
        params=params * 2,
    )
