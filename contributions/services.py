"""Writes for contributions and payouts, batch-first and idempotent.

New events are told from known ones with one indexed query over the batch's block range
(unique key: block number + log index), inserted in one COPY (PostgreSQL) or executemany (SQLite),
and their amounts added to the totals of the groups, memberships, users and tokens they touch
with one set-based UPDATE per table.
"""

from collections import defaultdict

from ajo.db import bulk_insert, bulk_update, chunks, from_unix
from ajo.events import ContributionMade, Event, PayoutSent
from contributions.models import Contribution, Payout
from groups.models import Membership, Token, User
from groups.services import (
    GROUP_STATE_FIELDS,
    RunCache,
    group_apply_derived_state,
    group_save_many,
    groups_by_id,
    user_ensure_many,
)

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


def _membership_ids(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """{(group id, user id): membership id} for the pairs that are memberships."""
    cache = RunCache.active.memberships if RunCache.active is not None else {}
    found = {pair: cache[pair] for pair in pairs if pair in cache}
    unknown_groups = sorted({group_id for group_id, _ in pairs - found.keys()})
    for part in chunks(unknown_groups):
        rows = Membership.objects.filter(group_id__in=part).values_list("id", "group_id", "user_id")
        for membership_id, group_id, user_id in rows:
            cache[(group_id, user_id)] = membership_id
            if (group_id, user_id) in pairs:
                found[(group_id, user_id)] = membership_id
    return found


def _add(totals: dict, key, amount: int) -> None:
    entry = totals[key]
    entry[0] += amount
    entry[1] += 1


def _load_context(model, events: list[Event], who: str):
    """What both event kinds need: the new events, {address: user id} for their `who`
    addresses, the groups they touch and {(group, user): membership id}. None if none is new."""
    events = _new_events(model, events) if events else []
    if not events:
        return None
    users = user_ensure_many(
        addresses={getattr(event, who) for event in events},
        first_seen_block=events[0].block_number,
    )
    groups = groups_by_id({event.group_id for event in events})
    memberships = _membership_ids(
        {(event.group_id, users[getattr(event, who)]) for event in events}
    )
    return events, users, groups, memberships


def contribution_record_many(*, events: list[ContributionMade]) -> int:
    """Record contributions not seen before and add them to every total. Returns how many."""
    context = _load_context(Contribution, events, "member")
    if context is None:
        return 0
    events, users, groups, memberships = context
    by_membership: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    by_user: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    by_token: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    starts = {
        group.id: (int(group.start_time.timestamp()), group.frequency)
        for group in groups.values()
        if group.start_time is not None
    }
    rows = []
    for event in events:
        group_id = event.group_id
        user_id = users[event.member]
        amount = event.amount
        start = starts.get(group_id)
        # late: mined after the round's deadline, start + round * frequency
        is_late = start is not None and event.block_time > start[0] + event.round * start[1]
        rows.append(
            (
                group_id,
                user_id,
                event.round,
                amount,
                event.tx_hash,
                event.log_index,
                event.block_number,
                from_unix(event.block_time),
                is_late,
            )
        )
        group = groups[group_id]
        group.total_contributed += amount
        group.contribution_count += 1
        membership_id = memberships.get((group_id, user_id))
        if membership_id is not None:
            _add(by_membership, membership_id, amount)
        _add(by_user, user_id, amount)
        _add(by_token, group.token_id, amount)
    bulk_insert(
        Contribution, ["group", "member", "round", "amount", *_EVENT_COLUMNS, "is_late"], rows
    )
    for group in groups.values():
        group_apply_derived_state(group)
    group_save_many(
        groups.values(), ["total_contributed", "contribution_count", *GROUP_STATE_FIELDS]
    )
    totals = ["total_contributed", "contribution_count"]
    bulk_update(Membership, totals, [(k, *v) for k, v in by_membership.items()], add=True)
    bulk_update(User, totals, [(k, *v) for k, v in by_user.items()], add=True)
    bulk_update(Token, totals, [(k, *v) for k, v in by_token.items()], add=True)
    return len(rows)


def payout_record_many(*, events: list[PayoutSent]) -> int:
    """Record payouts not seen before: pot to the recipient, round closed. Returns how many."""
    context = _load_context(Payout, events, "recipient")
    if context is None:
        return 0
    events, users, groups, memberships = context
    by_user: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    by_token: dict[int, int] = defaultdict(int)
    membership_rows = []
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
        membership_id = memberships.get((event.group_id, user_id))
        if membership_id is not None:
            membership_rows.append((membership_id, event.round, event.amount))
        _add(by_user, user_id, event.amount)
        by_token[group.token_id] += event.amount
    bulk_insert(Payout, ["group", "recipient", "round", "amount", *_EVENT_COLUMNS], rows)
    for group in groups.values():
        group_apply_derived_state(group)
    group_save_many(groups.values(), ["total_paid_out", "payout_count", *GROUP_STATE_FIELDS])
    bulk_update(Membership, ["payout_round", "payout_amount"], membership_rows)
    bulk_update(
        User, ["total_received", "payout_count"], [(k, *v) for k, v in by_user.items()], add=True
    )
    bulk_update(Token, ["total_paid_out"], list(by_token.items()), add=True)
    return len(rows)
