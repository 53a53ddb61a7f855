"""Writes for users, tokens, groups and memberships. Batch-first and idempotent.

Each `*_record_*_many` takes the decoded events of one type for a whole block range, finds
which are new with one query keyed on the unique keys, writes the new rows with one bulk
statement, and moves the totals of the rows they touch (loaded once, written back once).
Applying the same batch twice changes nothing. Callers hold the write lock (see
`ajo.chain.writelock`) and a transaction.

New rows get their ids before they are written (`ajo.db.bulk_insert_new` on PostgreSQL) and go
into the run's caches at once, so no handler reads back what another one wrote: the sync can
compute a batch's writes while the previous batch is still being committed.
"""

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Q, Sum

from ajo.contract import rules
from ajo.contract.events import GroupCompleted, GroupCreated, GroupStarted, MemberJoined
from ajo.db import (
    bulk_insert,
    bulk_insert_new,
    bulk_update,
    chunks,
    delete_ids,
    from_unix,
    request_barrier,
    save_fields,
)
from ajo.fields import Uint256Sum
from groups.models import Group, Membership, Token, User

logger = logging.getLogger(__name__)


class RunCache:
    """Ids of users and tokens, and event-derived groups, seen during one sync run.

    Ids never change and only a reorg revert deletes rows (it clears the cache), so within a
    run the sync can skip looking them up again; a miss falls back to the database. Groups
    indexed from events are written only by the sync while it holds the writer lock (a tx
    ingested through the API ahead of the sync makes the next window revert, which clears
    the cache too), so the run keeps them in memory instead of loading them every window.
    Outside a run (`active` is None) nothing is cached.
    """

    active: "RunCache | None" = None
    # A long --follow run starts over past these rather than grow without bound (about
    # 150 MB of ids per kind at most).
    MAX_GROUPS = 200_000
    MAX_IDS = 1_000_000

    def __init__(self):
        self.users: dict[str, int] = {}
        self.tokens: dict[str, int] = {}
        self.groups: dict[int, Group] = {}

    @classmethod
    def clear(cls) -> None:
        if cls.active is not None:
            cls.active.users.clear()
            cls.active.tokens.clear()
            cls.active.groups.clear()

    def too_big(self) -> bool:
        return len(self.groups) > self.MAX_GROUPS or (
            max(len(self.users), len(self.tokens)) > self.MAX_IDS
        )


class WindowGroups:
    """The groups one batch of events touches, shared by every handler of the batch (and kept
    for the next batches of a sync run, see RunCache).

    Each event type's handler used to load the groups it touches and write them back; in a
    batch with groups created, joined, paid into and paid out, that was up to six loads and
    six writes of the same rows. Within `group_window()` they are loaded once, changed in
    memory by each handler, and written back in one statement when all handlers succeeded.
    Nothing reads group rows with SQL in between, so deferring the write changes nothing.
    """

    active: "WindowGroups | None" = None

    def __init__(self):
        run = RunCache.active
        self.loaded: dict[int, Group] = run.groups if run is not None else {}
        self.changed: dict[int, Group] = {}
        self.fields: set[str] = set()

    def flush(self) -> None:
        save_fields(Group, self.changed.values(), sorted(self.fields))
        # Rows read from view functions can still be changed by the API: not kept. The next
        # batch reads them from the database, so this batch's writes must land first.
        views = [i for i, g in self.loaded.items() if g.source != Group.Source.EVENTS]
        for group_id in views:
            del self.loaded[group_id]
        if views:
            request_barrier()
        run = RunCache.active
        if run is not None and run.too_big():
            # Start over. The next batch then reads from the database what it would have
            # found here (rows this batch creates included): this batch must land first.
            RunCache.clear()
            request_barrier()


@contextmanager
def group_window() -> Iterator[WindowGroups]:
    WindowGroups.active = window = WindowGroups()
    try:
        yield window
        window.flush()
    except BaseException:
        # The transaction rolls back: the run's copies may hold changes that never landed.
        RunCache.clear()
        raise
    finally:
        WindowGroups.active = None


def group_save_many(groups: Iterable[Group], fields: list[str]) -> None:
    """Write back `fields` of changed groups: at the end of the batch inside a group window,
    at once outside one."""
    window = WindowGroups.active
    if window is None:
        save_fields(Group, groups, fields)
        return
    for group in groups:
        window.changed[group.id] = group
    window.fields.update(fields)


GROUP_STATE_FIELDS = [
    "status",
    "current_round",
    "next_deadline",
    "paid_this_round",
]


def _ensure_by_address(
    model, cache: dict[str, int], addresses: Iterable[str], columns: list[str], row
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
        new_ids = bulk_insert_new(model, columns, [row(address) for address in missing])
        if new_ids is None:  # SQLite: read the ids back
            for part in chunks(missing):
                ids.update(model.objects.filter(address__in=part).values_list("address", "id"))
        else:
            ids.update(zip(missing, new_ids, strict=True))
    cache.update(ids)
    return ids


def user_ensure_many(
    *, addresses: Iterable[str], first_seen_block: int | None = None
) -> dict[str, int]:
    """Return {address: user id}, creating a wallet user for each address not seen before."""
    return _ensure_by_address(
        User,
        RunCache.active.users if RunCache.active is not None else {},
        addresses,
        ["username", "address", "password", "first_seen_block"],
        # password "!" is unusable: wallet users never log in with a password
        lambda address: (address, address, "!", first_seen_block),
    )


def token_ensure_many(*, addresses: Iterable[str]) -> dict[str, int]:
    """Return {address: token id}, creating tokens not seen before (metadata comes later)."""
    return _ensure_by_address(
        Token,
        RunCache.active.tokens if RunCache.active is not None else {},
        addresses,
        ["address"],
        lambda address: (address,),
    )


def token_set_metadata(*, address: str, symbol: str, name: str, decimals: int | None) -> None:
    Token.objects.filter(address=address).update(
        symbol=symbol[:32], name=name[:100], decimals=decimals, metadata_fetched=True
    )


def _apply_state(group: Group, state: rules.GroupState) -> None:
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
    _apply_state(
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


def groups_by_id(group_ids: Iterable[int]) -> dict[int, Group]:
    """{id: group} for the ids that exist; inside a group window, the window's shared rows."""
    window = WindowGroups.active
    loaded = window.loaded if window is not None else {}
    ids = sorted(set(group_ids))
    found: dict[int, Group] = {i: loaded[i] for i in ids if i in loaded}
    for part in chunks([i for i in ids if i not in found]):
        found.update((group.id, group) for group in Group.objects.filter(id__in=part))
    if window is not None:
        loaded.update(found)
    return found


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


def group_record_created_many(*, events: list[GroupCreated]) -> int:
    """Create groups (or turn rows read from view functions into event-derived rows)."""
    if not events:
        return 0
    users = user_ensure_many(
        addresses=(event.creator for event in events), first_seen_block=events[0].block_number
    )
    tokens = token_ensure_many(addresses=(event.token for event in events))
    existing = groups_by_id(event.group_id for event in events)
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
    )
    if WindowGroups.active is not None:
        WindowGroups.active.loaded.update((group.id, group) for group in created)
    group_save_many(converted, [*_CREATED_FIELDS, *GROUP_STATE_FIELDS])
    bulk_update(Token, ["group_count"], list(new_by_token.items()), add=True)
    return len(created) + len(converted)


def membership_record_joined_many(*, events: list[MemberJoined]) -> int:
    """Record joins. A seat read from view functions (read_block set) is confirmed by its
    event when the event's member holds it; when the events disagree with a view read of a
    group (another member in a seat, or the member in another seat), none of that read's
    seats is trusted: they are dropped, and the events' members take the seats."""
    if not events:
        return 0
    users = user_ensure_many(
        addresses=(event.member for event in events), first_seen_block=events[0].block_number
    )
    groups = groups_by_id(event.group_id for event in events)
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
        request_barrier()
        delete_ids(Membership, [membership.id for membership in dropped])
    bulk_insert(
        Membership,
        ["group", "user", "position", "joined_block", "joined_tx", "joined_log_index", "joined_at"],
        new_rows,
    )
    save_fields(
        Membership,
        confirmed,
        ["joined_block", "joined_tx", "joined_log_index", "joined_at", "read_block"],
    )
    for group_id in touched:
        group_apply_derived_state(groups[group_id])
    group_save_many([groups[g] for g in touched], ["member_count", *GROUP_STATE_FIELDS])
    bulk_update(User, ["group_count"], [(i, n) for i, n in joined_users.items() if n], add=True)
    return len(new_rows)


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


def group_record_started_many(*, events: list[GroupStarted]) -> int:
    if not events:
        return 0
    groups = groups_by_id(event.group_id for event in events)
    changed = []
    for event in events:
        group = groups[event.group_id]
        if group.started_block is not None and group.source == Group.Source.EVENTS:
            continue
        group.start_time = from_unix(event.start_time)
        group.started_block = event.block_number
        group_apply_derived_state(group)
        changed.append(group)
    group_save_many(changed, ["start_time", "started_block", *GROUP_STATE_FIELDS])
    return len(changed)


def group_record_completed_many(*, events: list[GroupCompleted]) -> int:
    if not events:
        return 0
    groups = groups_by_id(event.group_id for event in events)
    changed = []
    for event in events:
        group = groups[event.group_id]
        if group.completed_block is not None:
            continue
        group.completed_block = event.block_number
        group.completed_at = from_unix(event.block_time)
        group_apply_derived_state(group)
        changed.append(group)
    group_save_many(changed, ["completed_block", "completed_at", *GROUP_STATE_FIELDS])
    return len(changed)


@transaction.atomic
def group_recompute_many(*, group_ids: Iterable[int]) -> None:
    """Rebuild every counter and total of these groups, their members and users from the rows.

    Used after a reorg removed rows: slower than the incremental path (it reads all of the
    groups' contributions), but it cannot drift. Amounts are summed in Python so uint256
    stays exact on SQLite too.
    """
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


def group_refresh_from_chain(*, group_id: int, max_age: float = 0) -> Group | None:
    """Read a group from the contract's view functions and store it. None: no such group.

    The read is made at head - SYNC_CONFIRMATIONS, the block the sync would index (see
    ajo.chainreads.chain_group_read), and the rows it stores record that block (read_block).
    - Not in the database: created with source "chain_view" (memberships with joined_block
      NULL, users and token ensured, token metadata read once), so the API can answer before
      the sync reaches the group's blocks; the sync later turns the rows into event-derived
      ones without duplicates (group_record_created_many / membership_record_joined_many).
    - A "chain_view" row: updated from the views (state, member count, members), unless it
      was read at a later block.
    - An "events" row: left as it is. Its state comes from the events up to the sync's
      checkpoint, and a view read could be ahead of that checkpoint (or on a fork the sync
      will not follow); only the sync writes it. Only missing token metadata is filled.
    - Not in the database, and the sync's checkpoint is at or past the read block: not
      stored (see _group_store_view).

    Per-round payments and totals are not in the views: a "chain_view" row has none until the
    sync brings the events. `max_age` > 0 reuses a chain read that recent. Raises
    ContractNotConfigured without a configured contract and RpcUnavailable when the node
    cannot be reached.
    """
    from django.db import IntegrityError

    from ajo.chainreads import chain_group_read, chain_token_metadata

    read = chain_group_read(group_id=group_id, max_age=max_age)
    if read.view is None:
        return None
    view = read.view
    token = Token.objects.filter(address=view.token).first()
    metadata = None
    if token is None or not token.metadata_fetched:
        metadata = chain_token_metadata(token=view.token)  # before the write transaction
    try:
        with transaction.atomic():
            stored = _group_store_view(view=view, members=read.members, block=read.block_number)
            if metadata is not None and stored is not None:
                token_set_metadata(
                    address=view.token,
                    symbol=metadata.symbol,
                    name=metadata.name,
                    decimals=metadata.decimals,
                )
    except IntegrityError:
        # Another request (or the sync) stored the same group meanwhile: theirs stands.
        pass
    return Group.objects.select_related("token", "creator").filter(id=group_id).first()


def _group_store_view(*, view, members: list[str], block: int) -> Group | None:
    """Store one view read (made at `block`). None when it is not stored.

    The checkpoint is locked first, as the sync's windows lock it, so the two take turns:
    a read stored here is always of a block the sync has not indexed yet, and the sync's
    window that reaches that block sees the rows. A read of a block the sync has indexed is
    not stored: the sync holds every group created up to its checkpoint, and groups are
    never deleted, so a group the index lacks there was read from a fork or from a node the
    index does not follow, and the sync would never revisit that block to correct the row.
    """
    from django.db.models import F

    from ajo.models import SyncState

    state = SyncState.objects.select_for_update().filter(pk=1).first()
    existing = Group.objects.select_for_update().filter(id=view.group_id).first()
    if existing is not None and existing.source == Group.Source.EVENTS:
        return existing
    if state is not None and state.last_block is not None and block <= state.last_block:
        logger.warning(
            "group %s read from view functions at block %s, which is indexed without it: "
            "not stored (the node may be on another fork)",
            view.group_id,
            block,
        )
        return None
    if existing is not None and existing.read_block is not None and existing.read_block > block:
        return existing  # read at a later block: a lagging node does not take it back
    users = user_ensure_many(addresses=[view.creator, *members])
    token_id = token_ensure_many(addresses=[view.token])[view.token]
    group = existing or Group(id=view.group_id, source=Group.Source.CHAIN_VIEW)
    old_token_id = existing.token_id if existing is not None else None
    group.name = view.name
    group.token_id = token_id
    group.creator_id = users[view.creator]
    group.contribution_amount = view.contribution_amount
    group.frequency = view.frequency
    group.max_members = view.max_members
    group.member_count = len(members)
    group.start_time = from_unix(view.start_time) if view.start_time else None
    _apply_state(
        group,
        rules.group_state_from_view(
            is_active=view.is_active,
            is_completed=view.is_completed,
            current_round=view.current_round,
            start_time=view.start_time,
            frequency=view.frequency,
        ),
    )
    group.read_block = block
    if existing is None:
        group.save(force_insert=True)
    else:
        group.save()
    if old_token_id != token_id:
        Token.objects.filter(id=token_id).update(group_count=F("group_count") + 1)
        if old_token_id is not None:
            Token.objects.filter(id=old_token_id).update(group_count=F("group_count") - 1)
    # The seats are the read's: one that another member holds now (the chain moved) goes.
    wanted = {position: users[address] for position, address in enumerate(members)}
    seats = {m.position: m for m in Membership.objects.filter(group_id=group.id)}
    stale = [m for position, m in seats.items() if wanted.get(position) != m.user_id]
    Membership.objects.filter(id__in=[m.id for m in stale]).delete()
    new = [
        Membership(group_id=group.id, user_id=user_id, position=position, read_block=block)
        for position, user_id in wanted.items()
        if position not in seats or seats[position] in stale
    ]
    Membership.objects.bulk_create(new)
    Membership.objects.filter(group_id=group.id).update(read_block=block)
    # (group, user) is unique: each user gains or loses one group at most
    if stale:
        User.objects.filter(id__in=[m.user_id for m in stale]).update(
            group_count=F("group_count") - 1
        )
    if new:
        User.objects.filter(id__in=[m.user_id for m in new]).update(
            group_count=F("group_count") + 1
        )
    return group


@dataclass
class ViewReadsDropped:
    """What view_reads_drop changed: groups kept whose counters need a rebuild, and the
    users and tokens whose counts moved."""

    group_ids: set[int] = field(default_factory=set)
    user_ids: set[int] = field(default_factory=set)
    token_ids: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.group_ids or self.user_ids or self.token_ids)


def view_reads_drop(*, after_block: int, through_block: int | None = None) -> ViewReadsDropped:
    """Take back what view reads of blocks (after_block, through_block] stored and no event
    confirmed: "chain_view" groups (with their seats and anything ingested for them), seats
    still waiting for their MemberJoined, a start time no GroupStarted backs. Event-derived
    groups that held such values keep their events' rows; the caller rebuilds their counters
    (group_ids) and the counts of the users and tokens returned. Two partial-index queries
    when there is nothing to drop."""
    span = Q(read_block__gt=after_block)
    if through_block is not None:
        span &= Q(read_block__lte=through_block)
    dropped = ViewReadsDropped()
    groups = list(Group.objects.filter(span).values_list("id", "source", "token_id", "creator_id"))
    seats = list(Membership.objects.filter(span).values_list("id", "group_id", "user_id"))
    if not groups and not seats:
        return dropped
    views = [group_id for group_id, source, _, _ in groups if source == Group.Source.CHAIN_VIEW]
    for group_id, source, token_id, creator_id in groups:
        dropped.token_ids.add(token_id)
        dropped.user_ids.add(creator_id)
        if source == Group.Source.EVENTS:
            dropped.group_ids.add(group_id)
    dropped.user_ids.update(
        Membership.objects.filter(group_id__in=views).values_list("user_id", flat=True)
    )
    for _, group_id, user_id in seats:
        dropped.user_ids.add(user_id)
        if group_id not in views:
            dropped.group_ids.add(group_id)
    Membership.objects.filter(id__in=[seat_id for seat_id, _, _ in seats]).delete()
    Group.objects.filter(id__in=views).delete()  # their seats and event rows with them
    kept = Group.objects.filter(span, source=Group.Source.EVENTS)
    kept.filter(started_block__isnull=True).update(start_time=None)
    kept.update(read_block=None)
    dropped.token_ids.update(
        Group.objects.filter(id__in=dropped.group_ids).values_list("token_id", flat=True)
    )
    return dropped


def view_reads_settle(*, through_block: int) -> bool:
    """The sync's checkpoint reached `through_block`: every view read of a block up to it
    is now either confirmed by the indexed events or disproved by them (a group or a seat
    the events do not have was read from another fork or a lying node). Drop the rest and
    rebuild what it counted. Runs in the transaction that moves the checkpoint, possibly on
    the sync's writer thread: reads the rows from the database, never the run's caches.
    True when it changed rows (cached copies are stale then)."""
    dropped = view_reads_drop(after_block=-1, through_block=through_block)
    if not dropped:
        return False
    groups = list(Group.objects.filter(id__in=dropped.group_ids))
    counts = dict(
        Membership.objects.filter(group_id__in=dropped.group_ids)
        .values("group_id")
        .annotate(n=Count("id"))
        .values_list("group_id", "n")
        .order_by()
    )
    for group in groups:
        group.member_count = counts.get(group.id, 0)
        group_apply_derived_state(group)
    save_fields(Group, groups, ["member_count", *GROUP_STATE_FIELDS])
    user_recompute_many(user_ids=dropped.user_ids)
    token_recompute_many(token_ids=dropped.token_ids)
    return True
