"""The event recorders: writes for users, tokens, groups and memberships from the contract's
events, batch-first and idempotent, and the model side of the group-state rule they all apply.

Each `*_record_*_many` takes the decoded events of one type for a whole block range, finds
which are new with one query keyed on the unique keys, writes the new rows with one bulk
statement, and moves the totals of the rows they touch (loaded once, written back once).
Applying the same batch twice changes nothing. Callers hold the write lock (see
`ajo.engine.writelock`) and a transaction.

New rows get their ids before they are written (`ajo.db.bulk.bulk_insert_new` on PostgreSQL)
and go into the run's caches (groups.runstate) at once, so no handler reads back what another
one wrote: the sync can compute a batch's writes while the previous batch is still being
committed. Given a `window` (groups.runstate.WindowGroups: the sync's and ingest's), they use
its shared rows and caches and send every write to its sink (`window.out`); without one they
read from the database and write at once.
"""

from collections.abc import Iterable

from ajo.contract import rules
from ajo.contract.events import GroupCompleted, GroupCreated, GroupStarted, MemberJoined
from ajo.db.bulk import (
    IMMEDIATE,
    WriteSink,
    bulk_insert,
    bulk_insert_new,
    bulk_update,
    chunks,
    delete_ids,
    from_unix,
    save_fields,
)
from ajo.models import SyncState
from groups.models import Group, Membership, Token, User
from groups.runstate import WindowGroups, group_save_many, groups_by_id

GROUP_STATE_FIELDS = [
    "status",
    "current_round",
    "next_deadline",
    "paid_this_round",
]


def _ensure_by_address(
    model,
    cache: dict[str, int],
    addresses: Iterable[str],
    columns: list[str],
    row,
    out: WriteSink,
) -> dict[str, int]:
    """{address: id} for rows keyed by address, inserting `row(address)` (values for
    `columns`) for each address not stored yet."""
    wanted = sorted(set(addresses))
    ids = {address: cache[address] for address in wanted if address in cache}
    unknown = [address for address in wanted if address not in ids]
    for part in chunks(unknown):
        ids.update(model.objects.filter(address__in=part).values_list("address", "id"))
    missing = [address for address in unknown if address not in ids]
    if missing:
        new_ids = bulk_insert_new(model, columns, [row(address) for address in missing], out=out)
        if new_ids is None:  # SQLite: read the ids back
            for part in chunks(missing):
                ids.update(model.objects.filter(address__in=part).values_list("address", "id"))
        else:
            ids.update(zip(missing, new_ids, strict=True))
    cache.update(ids)
    return ids


def user_ensure_many(
    *,
    addresses: Iterable[str],
    first_seen_block: int | None = None,
    window: WindowGroups | None = None,
) -> dict[str, int]:
    """Return {address: user id}, creating a wallet user for each address not seen before."""
    return _ensure_by_address(
        User,
        window.users if window is not None else {},
        addresses,
        ["username", "address", "password", "first_seen_block"],
        # password "!" is unusable: wallet users never log in with a password
        lambda address: (address, address, "!", first_seen_block),
        window.out if window is not None else IMMEDIATE,
    )


def token_ensure_many(
    *, addresses: Iterable[str], window: WindowGroups | None = None
) -> dict[str, int]:
    """Return {address: token id}, creating tokens not seen before (metadata comes later)."""
    return _ensure_by_address(
        Token,
        window.tokens if window is not None else {},
        addresses,
        ["address"],
        lambda address: (address,),
        window.out if window is not None else IMMEDIATE,
    )


def token_set_metadata(*, address: str, symbol: str, name: str, decimals: int | None) -> None:
    if Token.objects.filter(address=address).update(
        symbol=symbol[:32], name=name[:100], decimals=decimals, metadata_fetched=True
    ):
        SyncState.bump_generation()  # every answer that shows the token (ajo/api/cache.py)


# The model side of ajo.contract.rules' group state. It sits with the recorders because every
# group writer applies it after moving counters (these recorders, contributions' recorders,
# the rebuild in groups.totals, the view reads in groups.chainview), and those build on the
# recorders, never the other way.
def group_apply_state(group: Group, state: rules.GroupState) -> None:
    """Write a computed state onto a group row (the GROUP_STATE_FIELDS)."""
    group.status = state.status
    group.current_round = state.current_round
    group.next_deadline = from_unix(state.next_deadline)
    group.paid_this_round = state.paid_this_round


def group_apply_derived_state(group: Group) -> None:
    """Status, round, deadline and round progress follow from the counters the events moved
    (rules.group_state_from_counts). Rows read from view functions keep the state the
    contract reported."""
    if group.source != Group.Source.EVENTS:
        return
    group_apply_state(
        group,
        rules.group_state_from_counts(
            started_at=int(group.start_time.timestamp()) if group.start_time else None,
            completed=group.completed_block is not None,
            member_count=group.member_count,
            max_members=group.max_members,
            contribution_count=group.contribution_count,
            payout_count=group.payout_count,
            frequency=group.frequency,
        ),
    )


_CREATED_FIELDS = [
    "name",
    "token",
    "creator",
    "contribution_amount",
    "frequency",
    "max_members",
    "created_block",
    "created_tx",
    "created_log_index",
    "created_at",
    "source",
]


def group_record_created_many(
    *, events: list[GroupCreated], window: WindowGroups | None = None
) -> int:
    """Create groups (or turn rows read from view functions into event-derived rows)."""
    if not events:
        return 0
    out = window.out if window is not None else IMMEDIATE
    users = user_ensure_many(
        addresses=(event.creator for event in events),
        first_seen_block=events[0].block_number,
        window=window,
    )
    tokens = token_ensure_many(addresses=(event.token for event in events), window=window)
    existing = groups_by_id((event.group_id for event in events), window=window)
    created: list[Group] = []
    converted: list[Group] = []
    new_by_token: dict[int, int] = {}
    for event in events:
        group = existing.get(event.group_id)
        if group is not None and group.source == Group.Source.EVENTS:
            continue  # already indexed, or twice in this batch: changes nothing
        values = (
            event.name,
            tokens[event.token],
            users[event.creator],
            event.contribution_amount,
            event.frequency,
            event.max_members,
            event.block_number,
            event.tx_hash,
            event.log_index,
            from_unix(event.block_time),
            Group.Source.EVENTS.value,
        )
        is_new = group is None
        if is_new:
            group = existing[event.group_id] = Group(id=event.group_id)
        for name, value in zip(_CREATED_FIELDS, values, strict=True):
            setattr(group, Group._meta.get_field(name).attname, value)
        group_apply_derived_state(group)
        if is_new:
            created.append(group)
            new_by_token[group.token_id] = new_by_token.get(group.token_id, 0) + 1
        else:
            converted.append(group)
    # New groups are written whole, as built here, and join the batch's shared groups: the
    # handlers after this one find them there instead of reading them back.
    columns = [field.attname for field in Group._meta.concrete_fields]
    bulk_insert(
        Group,
        [field.name for field in Group._meta.concrete_fields],
        [tuple(getattr(group, column) for column in columns) for group in created],
        out=out,
    )
    if window is not None:
        window.loaded.update((group.id, group) for group in created)
    group_save_many(converted, [*_CREATED_FIELDS, *GROUP_STATE_FIELDS], window=window)
    bulk_update(Token, ["group_count"], list(new_by_token.items()), add=True, out=out)
    return len(created) + len(converted)


def membership_record_joined_many(
    *, events: list[MemberJoined], window: WindowGroups | None = None
) -> int:
    """Record joins. A seat read from view functions (read_block set) is confirmed by its
    event when the event's member holds it; when the events disagree with a view read of a
    group (another member in a seat, or the member in another seat), none of that read's
    seats is trusted: they are dropped, and the events' members take the seats."""
    if not events:
        return 0
    out = window.out if window is not None else IMMEDIATE
    users = user_ensure_many(
        addresses=(event.member for event in events),
        first_seen_block=events[0].block_number,
        window=window,
    )
    groups = groups_by_id((event.group_id for event in events), window=window)
    existing: dict[tuple[int, int], Membership | None] = {}
    for part in chunks(sorted(groups)):
        for membership in Membership.objects.filter(group_id__in=part):
            existing[(membership.group_id, membership.position)] = membership
    dropped = _seats_disproved(events, users, existing)
    new_rows: list[tuple] = []
    confirmed: list[Membership] = []
    joined_users: dict[int, int] = {}
    touched: set[int] = set()
    for membership in dropped:
        groups[membership.group_id].member_count -= 1
        touched.add(membership.group_id)
        joined_users[membership.user_id] = joined_users.get(membership.user_id, 0) - 1
    for event in events:
        key = (event.group_id, event.position)
        if key in existing:
            membership = existing[key]
            if membership is not None and membership.joined_block is None:
                # a seat read from view functions, held by this member: the event adds
                # where and when, and the seat no longer waits for its event
                membership.joined_block = event.block_number
                membership.joined_tx = event.tx_hash
                membership.joined_log_index = event.log_index
                membership.joined_at = from_unix(event.block_time)
                membership.read_block = None
                confirmed.append(membership)
            continue
        user_id = users[event.member]
        existing[key] = None  # a seat taken in this batch: a second event for it is a duplicate
        new_rows.append(
            (
                event.group_id,
                user_id,
                event.position,
                event.block_number,
                event.tx_hash,
                event.log_index,
                from_unix(event.block_time),
            )
        )
        groups[event.group_id].member_count += 1
        touched.add(event.group_id)
        joined_users[user_id] = joined_users.get(user_id, 0) + 1
    if dropped or confirmed:
        # Seats are not kept in the run's caches: the next batch reads them from the
        # database, so this batch's changes to them must land first.
        if window is not None:
            window.request_barrier()
        delete_ids(Membership, [membership.id for membership in dropped], out=out)
    bulk_insert(
        Membership,
        ["group", "user", "position", "joined_block", "joined_tx", "joined_log_index", "joined_at"],
        new_rows,
        out=out,
    )
    save_fields(
        Membership,
        confirmed,
        ["joined_block", "joined_tx", "joined_log_index", "joined_at", "read_block"],
        out=out,
    )
    for group_id in touched:
        group_apply_derived_state(groups[group_id])
    group_save_many(
        [groups[g] for g in touched], ["member_count", *GROUP_STATE_FIELDS], window=window
    )
    bulk_update(
        User, ["group_count"], [(i, n) for i, n in joined_users.items() if n], add=True, out=out
    )
    return len(new_rows)


# Judges view reads, but only this recorder calls it, and groups.chainview builds on the
# recorders (it ensures users and tokens): kept here, where it adds no cycle.
def _seats_disproved(
    events: list[MemberJoined],
    users: dict[str, int],
    existing: dict[tuple[int, int], Membership | None],
) -> list[Membership]:
    """The view-read seats of every group whose joins in `events` contradict them; taken out
    of `existing`, so the events' members get the seats. A view read can be of a block the
    chain has left (a reorg, a lagging node): one wrong seat says the whole read was."""
    unconfirmed: dict[int, dict[int, Membership]] = {}  # group -> user -> seat
    for (group_id, _), membership in existing.items():
        if membership is not None and membership.joined_block is None:
            unconfirmed.setdefault(group_id, {})[membership.user_id] = membership
    wrong: set[int] = set()
    for event in events:
        seats = unconfirmed.get(event.group_id)
        if not seats or event.group_id in wrong:
            continue
        user_id = users[event.member]
        held = existing.get((event.group_id, event.position))
        mine = seats.get(user_id)
        if (held is not None and held.joined_block is None and held.user_id != user_id) or (
            mine is not None and mine.position != event.position
        ):
            wrong.add(event.group_id)
    dropped = [seat for group_id in sorted(wrong) for seat in unconfirmed[group_id].values()]
    for seat in dropped:
        del existing[(seat.group_id, seat.position)]
    return dropped


def group_record_started_many(
    *, events: list[GroupStarted], window: WindowGroups | None = None
) -> int:
    if not events:
        return 0
    groups = groups_by_id((event.group_id for event in events), window=window)
    changed = []
    for event in events:
        group = groups[event.group_id]
        if group.started_block is not None and group.source == Group.Source.EVENTS:
            continue
        group.start_time = from_unix(event.start_time)
        group.started_block = event.block_number
        group_apply_derived_state(group)
        changed.append(group)
    group_save_many(changed, ["start_time", "started_block", *GROUP_STATE_FIELDS], window=window)
    return len(changed)


def group_record_completed_many(
    *, events: list[GroupCompleted], window: WindowGroups | None = None
) -> int:
    if not events:
        return 0
    groups = groups_by_id((event.group_id for event in events), window=window)
    changed = []
    for event in events:
        group = groups[event.group_id]
        if group.completed_block is not None:
            continue
        group.completed_block = event.block_number
        group.completed_at = from_unix(event.block_time)
        group_apply_derived_state(group)
        changed.append(group)
    group_save_many(
        changed, ["completed_block", "completed_at", *GROUP_STATE_FIELDS], window=window
    )
    return len(changed)
