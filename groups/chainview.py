"""Groups read from the contract's view functions (cache-first API reads and tx ingest):
storing a read ahead of the sync, and dropping what the sync's events do not confirm."""

import logging
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q

from ajo.chainreads import chain_group_read, chain_token_metadata
from ajo.contract import rules
from ajo.db.bulk import from_unix, save_fields
from ajo.models import SyncState
from groups.models import Group, Membership, Token, User
from groups.services import (
    GROUP_STATE_FIELDS,
    group_apply_derived_state,
    group_apply_state,
    token_ensure_many,
    token_set_metadata,
    user_ensure_many,
)
from groups.totals import token_recompute_many, user_recompute_many

logger = logging.getLogger(__name__)


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
    group_apply_state(
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
    # The rows are the index's now (lists show them too): answers cached before are not.
    SyncState.bump_generation()
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


def groups_ensure_known(*, decoded: dict[str, list], block_number: int) -> str | None:
    """Before tx ingest (registry.before_ingest): events about a group created in an earlier,
    not yet indexed block need the group row, read from the view functions first as a
    cache-first API read would (at head - confirmations, so at or after this block: the
    group exists there). Returns why the transaction cannot be ingested now, or None."""
    created = {event.group_id for event in decoded.get("GroupCreated", [])}
    referenced = {event.group_id for events in decoded.values() for event in events} - created
    known = set(Group.objects.filter(id__in=referenced).values_list("id", flat=True))
    for group_id in sorted(referenced - known):
        if group_refresh_from_chain(group_id=group_id) is None:
            return (
                f"group {group_id} of this transaction cannot be read at the chain's confirmed "
                f"block, or the index has passed block {block_number} without it: the chain "
                f"or the node is reorganising; try again shortly"
            )
    return None
