"""Writes for contributions and payouts, batch-first and idempotent.

New events are told from known ones with one indexed query over the batch's block range
(unique key: block number + log index), inserted in one COPY (PostgreSQL) or executemany
(SQLite), and their amounts added to the totals of the groups and tokens they touch with one
set-based UPDATE per table.

Membership and user totals (and the payout flags) are rolled up from the stored rows instead
(contributions.totals.totals_roll_up).
"""

from collections import defaultdict

from ajo.contract import rules
from ajo.contract.events import ContributionMade, Event, PayoutSent
from ajo.db.bulk import IMMEDIATE, bulk_insert, bulk_update, from_unix
from contributions.models import Contribution, Payout
from groups.models import Token
from groups.runstate import WindowGroups, group_save_many, groups_by_id
from groups.services import GROUP_STATE_FIELDS, group_apply_derived_state, user_ensure_many

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


def _load_context(model, events: list[Event], who: str, window: WindowGroups | None):
    """What both event kinds need: the new events, {address: user id} for their `who`
    addresses and the groups they touch. None if none is new."""
    events = _new_events(model, events) if events else []
    if not events:
        return None
    users = user_ensure_many(
        addresses={getattr(event, who) for event in events},
        first_seen_block=events[0].block_number,
        window=window,
    )
    groups = groups_by_id({event.group_id for event in events}, window=window)
    return events, users, groups


def contribution_record_many(
    *, events: list[ContributionMade], window: WindowGroups | None = None
) -> int:
    """Record contributions not seen before and add them to their groups' and tokens' totals
    (memberships and users: contributions.totals.totals_roll_up). Returns how many. With a
    `window` (groups.runstate), its shared groups and caches and its sink, as the groups
    recorders."""
    context = _load_context(Contribution, events, "member", window)
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
    out = window.out if window is not None else IMMEDIATE
    bulk_insert(
        Contribution,
        ["group", "member", "round", "amount", *_EVENT_COLUMNS, "is_late"],
        rows,
        out=out,
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
        groups.values(),
        ["total_contributed", "contribution_count", *GROUP_STATE_FIELDS],
        window=window,
    )
    bulk_update(
        Token,
        ["total_contributed", "contribution_count"],
        [(k, *v) for k, v in by_token.items()],
        add=True,
        out=out,
    )
    return len(rows)


def payout_record_many(*, events: list[PayoutSent], window: WindowGroups | None = None) -> int:
    """Record payouts not seen before: round closed, pot out of the group's and token's totals
    (the recipient's: contributions.totals.totals_roll_up). Returns how many."""
    context = _load_context(Payout, events, "recipient", window)
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
    out = window.out if window is not None else IMMEDIATE
    bulk_insert(Payout, ["group", "recipient", "round", "amount", *_EVENT_COLUMNS], rows, out=out)
    for group in groups.values():
        group_apply_derived_state(group)
    group_save_many(
        groups.values(), ["total_paid_out", "payout_count", *GROUP_STATE_FIELDS], window=window
    )
    bulk_update(Token, ["total_paid_out"], list(by_token.items()), add=True, out=out)
    return len(rows)
