"""Writes for contributions and payouts, batch-first and idempotent.

New events are told from known ones with one indexed query over the batch's block range
(unique key: tx hash + log index), inserted in bulk, and their amounts added to the totals of
the groups, memberships, users and tokens they touch, each loaded once and written back once.
"""

from collections import defaultdict
from datetime import timedelta

from ajo.db import chunks, from_unix, upsert_by_pk
from ajo.events import ContributionMade, Event, PayoutSent
from contributions.models import Contribution, Payout
from groups.models import Group, Membership, Token, User
from groups.services import (
    GROUP_STATE_FIELDS,
    group_apply_derived_state,
    groups_by_id,
    user_ensure_many,
    users_by_id,
)


def _known_keys(model, events: list[Event]) -> set[tuple[str, int]]:
    low = min(event.block_number for event in events)
    high = max(event.block_number for event in events)
    return set(
        model.objects.filter(block_number__gte=low, block_number__lte=high).values_list(
            "tx_hash", "log_index"
        )
    )


def _new_events(model, events):
    known = _known_keys(model, events)
    fresh, seen = [], set()
    for event in events:
        key = (event.tx_hash, event.log_index)
        if key not in known and key not in seen:
            seen.add(key)
            fresh.append(event)
    return fresh


def _memberships_of(group_ids) -> dict[tuple[int, int], Membership]:
    found = {}
    for part in chunks(sorted(group_ids)):
        for membership in Membership.objects.filter(group_id__in=part):
            found[(membership.group_id, membership.user_id)] = membership
    return found


def contribution_record_many(*, events: list[ContributionMade]) -> int:
    """Record contributions not seen before and add them to every total. Returns how many."""
    if not events:
        return 0
    events = _new_events(Contribution, events)
    if not events:
        return 0
    users = user_ensure_many(
        addresses={event.member for event in events}, first_seen_block=events[0].block_number
    )
    groups = groups_by_id({event.group_id for event in events})
    memberships = _memberships_of(groups)
    user_totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    token_totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    rows = []
    for event in events:
        group = groups[event.group_id]
        user_id = users[event.member]
        block_time = from_unix(event.block_time)
        deadline = (
            group.start_time + timedelta(seconds=event.round * group.frequency)
            if group.start_time is not None
            else None
        )
        rows.append(
            Contribution(
                group_id=event.group_id,
                member_id=user_id,
                round=event.round,
                amount=event.amount,
                tx_hash=event.tx_hash,
                log_index=event.log_index,
                block_number=event.block_number,
                block_time=block_time,
                is_late=deadline is not None and block_time > deadline,
            )
        )
        group.total_contributed += event.amount
        group.contribution_count += 1
        membership = memberships.get((event.group_id, user_id))
        if membership is not None:
            membership.total_contributed += event.amount
            membership.contribution_count += 1
        totals = user_totals[user_id]
        totals[0] += event.amount
        totals[1] += 1
        totals = token_totals[group.token_id]
        totals[0] += event.amount
        totals[1] += 1
    Contribution.objects.bulk_create(rows, batch_size=2000)
    for group in groups.values():
        group_apply_derived_state(group)
    upsert_by_pk(
        Group, groups.values(), ["total_contributed", "contribution_count", *GROUP_STATE_FIELDS]
    )
    upsert_by_pk(
        Membership,
        (m for m in memberships.values() if m.group_id in groups),
        ["total_contributed", "contribution_count"],
    )
    user_rows = users_by_id(user_totals)
    for user_id, (amount, count) in user_totals.items():
        user_rows[user_id].total_contributed += amount
        user_rows[user_id].contribution_count += count
    upsert_by_pk(User, user_rows.values(), ["total_contributed", "contribution_count"])
    token_rows = Token.objects.in_bulk(list(token_totals))
    for token_id, (amount, count) in token_totals.items():
        token_rows[token_id].total_contributed += amount
        token_rows[token_id].contribution_count += count
    upsert_by_pk(Token, token_rows.values(), ["total_contributed", "contribution_count"])
    return len(rows)


def payout_record_many(*, events: list[PayoutSent]) -> int:
    """Record payouts not seen before: pot to the recipient, round closed. Returns how many."""
    if not events:
        return 0
    events = _new_events(Payout, events)
    if not events:
        return 0
    users = user_ensure_many(
        addresses={event.recipient for event in events}, first_seen_block=events[0].block_number
    )
    groups = groups_by_id({event.group_id for event in events})
    memberships = _memberships_of(groups)
    user_totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    token_totals: dict[int, int] = defaultdict(int)
    rows = []
    touched_memberships = []
    for event in events:
        group = groups[event.group_id]
        user_id = users[event.recipient]
        rows.append(
            Payout(
                group_id=event.group_id,
                recipient_id=user_id,
                round=event.round,
                amount=event.amount,
                tx_hash=event.tx_hash,
                log_index=event.log_index,
                block_number=event.block_number,
                block_time=from_unix(event.block_time),
            )
        )
        group.total_paid_out += event.amount
        group.payout_count += 1
        membership = memberships.get((event.group_id, user_id))
        if membership is not None:
            membership.payout_round = event.round
            membership.payout_amount = event.amount
            touched_memberships.append(membership)
        user_totals[user_id][0] += event.amount
        user_totals[user_id][1] += 1
        token_totals[group.token_id] += event.amount
    Payout.objects.bulk_create(rows, batch_size=2000)
    for group in groups.values():
        group_apply_derived_state(group)
    upsert_by_pk(Group, groups.values(), ["total_paid_out", "payout_count", *GROUP_STATE_FIELDS])
    upsert_by_pk(Membership, touched_memberships, ["payout_round", "payout_amount"])
    user_rows = users_by_id(user_totals)
    for user_id, (amount, count) in user_totals.items():
        user_rows[user_id].total_received += amount
        user_rows[user_id].payout_count += count
    upsert_by_pk(User, user_rows.values(), ["total_received", "payout_count"])
    token_rows = Token.objects.in_bulk(list(token_totals))
    for token_id, amount in token_totals.items():
        token_rows[token_id].total_paid_out += amount
    upsert_by_pk(Token, token_rows.values(), ["total_paid_out"])
    return len(rows)
