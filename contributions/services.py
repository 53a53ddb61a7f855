"""Writes for contributions and payouts, batch-first and idempotent.

New events are told from known ones with one indexed query over the batch's block range
(unique key: block number + log index), inserted in one COPY (PostgreSQL) or executemany
(SQLite), and their amounts added to the totals of the groups and tokens they touch with one
set-based UPDATE per table.

Membership and user totals (and the payout flags) are rolled up from the stored rows instead,
by `totals_roll_up` over a block range: one UPDATE … FROM (SELECT … GROUP BY) per table. A
user pays into many windows of a long sync, and rolling up once at the end of a catch-up
updates each of those rows once instead of once per window, which was a third of the sync's
database time. The sync decides when (see ajo.engine.loop: SyncState.rolled_up_block).
"""

from collections import defaultdict

from django.db import connection
from django.db.models import Q

from ajo.contract import rules
from ajo.contract.events import ContributionMade, Event, PayoutSent
from ajo.db.bulk import bulk_insert, bulk_update, from_unix, sql_uint256_add, sql_uint256_sum
from contributions.models import Contribution, Payout
from groups.models import Membership, Token
from groups.runstate import group_save_many, groups_by_id
from groups.services import GROUP_STATE_FIELDS, group_apply_derived_state, user_ensure_many
from groups.totals import user_recompute_many

_EVENT_COLUMNS = ["tx_hash", "log_index", "block_number", "block_time"]


def _new_events(model, events: list[Event]) -> list[Event]:
    """Events whose place in the chain (block, log index) is not stored yet, without
    duplicates."""
    low = min(event.block_number for event in events)
    high = max(event.block_number for event in events)
    known = set(
        model.objects.filter(block_number__gte=low, block_number__lte=high).values_list(
            "block_number", "log_index"
        )
    )
    fresh = []
    for event in events:
        key = (event.block_number, event.log_index)
        if key not in known:
            known.add(key)
            fresh.append(event)
    return fresh


def _load_context(model, events: list[Event], who: str):
    """What both event kinds need: the new events, {address: user id} for their `who`
    addresses and the groups they touch. None if none is new."""
    events = _new_events(model, events) if events else []
    if not events:
        return None
    users = user_ensure_many(
        addresses={getattr(event, who) for event in events},
        first_seen_block=events[0].block_number,
    )
    groups = groups_by_id({event.group_id for event in events})
    return events, users, groups


def contribution_record_many(*, events: list[ContributionMade]) -> int:
    """Record contributions not seen before and add them to their groups' and tokens' totals
    (memberships and users: `totals_roll_up`). Returns how many."""
    context = _load_context(Contribution, events, "member")
    if context is None:
        return 0
    events, users, groups = context
    starts = {
        group.id: (int(group.start_time.timestamp()), group.frequency)
        for group in groups.values()
        if group.start_time is not None
    }
    rows = []
    paid: dict[int, int] = defaultdict(int)  # group id -> amount, added to the rows once below
    payments: dict[int, int] = defaultdict(int)
    for event in events:
        group_id = event.group_id
        amount = event.amount
        start = starts.get(group_id)
        is_late = start is not None and rules.is_late(
            block_time=event.block_time,
            start_time=start[0],
            round_number=event.round,
            frequency=start[1],
        )
        rows.append(
            (
                group_id,
                users[event.member],
                event.round,
                amount,
                event.tx_hash,
                event.log_index,
                event.block_number,
                from_unix(event.block_time),
                is_late,
            )
        )
        paid[group_id] += amount
        payments[group_id] += 1
    bulk_insert(
        Contribution, ["group", "member", "round", "amount", *_EVENT_COLUMNS, "is_late"], rows
    )
    by_token: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for group_id, amount in paid.items():
        group = groups[group_id]
        group.total_contributed += amount
        group.contribution_count += payments[group_id]
        group_apply_derived_state(group)
        token = by_token[group.token_id]
        token[0] += amount
        token[1] += payments[group_id]
    group_save_many(
        groups.values(), ["total_contributed", "contribution_count", *GROUP_STATE_FIELDS]
    )
    bulk_update(
        Token,
        ["total_contributed", "contribution_count"],
        [(k, *v) for k, v in by_token.items()],
        add=True,
    )
    return len(rows)


def payout_record_many(*, events: list[PayoutSent]) -> int:
    """Record payouts not seen before: round closed, pot out of the group's and token's totals
    (the recipient's: `totals_roll_up`). Returns how many."""
    context = _load_context(Payout, events, "recipient")
    if context is None:
        return 0
    events, users, groups = context
    by_token: dict[int, int] = defaultdict(int)
    rows = []
    for event in events:
        group = groups[event.group_id]
        user_id = users[event.recipient]
        rows.append(
            (
                event.group_id,
                user_id,
                event.round,
                event.amount,
                event.tx_hash,
                event.log_index,
                event.block_number,
                from_unix(event.block_time),
            )
        )
        group.total_paid_out += event.amount
        group.payout_count += 1
        by_token[group.token_id] += event.amount
    bulk_insert(Payout, ["group", "recipient", "round", "amount", *_EVENT_COLUMNS], rows)
    for group in groups.values():
        group_apply_derived_state(group)
    group_save_many(groups.values(), ["total_paid_out", "payout_count", *GROUP_STATE_FIELDS])
    bulk_update(Token, ["total_paid_out"], list(by_token.items()), add=True)
    return len(rows)


def totals_roll_up(*, after_block: int, through_block: int, tx_hash: str | None = None) -> None:
    """Roll the contributions and payouts of blocks (after_block, through_block], or of one
    transaction in that range, up into their memberships (totals, payout flags) and users.

    Each row must be rolled up exactly once: the caller keeps track (the sync with
    SyncState.rolled_up_block, tx ingest for the rows it has just inserted). Memberships gain
    the sums of their new rows, contributions and payouts in one statement, so each row is
    rewritten once (in place: see groups migration 0005); then the users touched are set to
    the sums of their memberships (groups.totals.user_recompute_many).
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
    rows = Q(block_number__gt=after_block, block_number__lte=through_block)
    if tx_hash:
        rows &= Q(tx_hash=tx_hash)
    paid = Contribution.objects.filter(rows).values_list("member_id", flat=True)
    received = Payout.objects.filter(rows).values_list("recipient_id", flat=True)
    touched = {*paid.order_by().distinct(), *received.order_by().distinct()}
    user_recompute_many(user_ids=touched)
