"""groups' checks for verify_chain (registered by groups.handlers): each group's state and
members against the contract's view functions, and each indexed group's state against its
counters (no node needed).

The view reads are shared with contributions' checks (context.shared(chain_groups)): one
getGroup and getMembers per group for the whole verification.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ajo.addresses import to_checksum
from ajo.contract import rules
from ajo.contract.reader import ContractReader, GroupView
from groups.models import Group, Membership

if TYPE_CHECKING:
    from ajo.engine.registry import VerifyContext


def reader(context: "VerifyContext") -> ContractReader:
    """The view-function reader at the compared block (shared by the checks)."""
    return ContractReader(context.client, context.contract, block=context.block)


@dataclass
class ChainGroups:
    """What the view functions say of the groups a verification compares."""

    group_ids: list[int] | None  # the scope (None: every group)
    read: dict[int, int]  # group id -> block of the view read it holds
    read_ahead: set[int]  # groups holding view reads of blocks not indexed yet: skipped
    ids_to_check: list[int]
    views: dict[int, GroupView]
    members: dict[int, list[str]]
    on_chain: int | None  # groupCount(), when every group is compared


def chain_groups(context: "VerifyContext") -> ChainGroups:
    """The groups to compare and their view reads (context.shared(chain_groups))."""
    view_reader = context.shared(reader)
    group_ids = sorted(set(context.scope)) if context.scope is not None else None
    # Groups holding values read from view functions ahead of the checkpoint (a seat, a
    # start) are not the index's yet: the sync confirms or drops those values when its
    # checkpoint reaches their read block (groups.chainview.view_reads_settle), and no such
    # value is left at or below the checkpoint after a window. Checked from then on.
    checkpoint = context.indexed
    read = dict(Group.objects.filter(read_block__isnull=False).values_list("id", "read_block"))
    read_ahead = {i for i, block in read.items() if checkpoint is None or block > checkpoint}
    on_chain = None
    if group_ids is None:
        on_chain = view_reader.group_count()
        ids_to_check = [i for i in range(1, on_chain + 1) if i not in read_ahead]
    else:
        ids_to_check = [i for i in group_ids if i not in read_ahead]
    views = view_reader.get_groups(ids_to_check)
    members = view_reader.get_members_many(list(views))
    return ChainGroups(group_ids, read, read_ahead, ids_to_check, views, members, on_chain)


def _expected(view: GroupView) -> dict:
    return {
        "name": view.name,
        "token": view.token.lower(),
        "creator": view.creator.lower(),
        "contribution amount": view.contribution_amount,
        "frequency": view.frequency,
        "max members": view.max_members,
        "member count": view.member_count,
        "current round": view.current_round,
        "start time": view.start_time,
        "status": view.status,
    }


def _actual(group: Group) -> dict:
    return {
        "name": group.name,
        "token": group.token.address,
        "creator": group.creator.address,
        "contribution amount": group.contribution_amount,
        "frequency": group.frequency,
        "max members": group.max_members,
        "member count": group.member_count,
        "current round": group.current_round,
        "start time": int(group.start_time.timestamp()) if group.start_time else 0,
        "status": group.status,
    }


def groups_against_chain(context: "VerifyContext") -> list[str]:
    """Each group's state and members against the view functions (chain check)."""
    chain = context.shared(chain_groups)
    group_ids, read_ahead = chain.group_ids, chain.read_ahead
    differences: list[str] = [
        f"group {i}: holds values read from view functions at block {block}, which is "
        f"indexed: the sync should have confirmed or dropped them"
        for i, block in sorted(chain.read.items())
        if i not in read_ahead and (group_ids is None or i in group_ids)
    ]
    groups = (
        Group.objects.filter(source=Group.Source.EVENTS)
        .exclude(id__in=read_ahead)
        .select_related("token", "creator")
    )
    if group_ids is not None:
        groups = groups.filter(id__in=group_ids)
    stored = {group.id: group for group in groups}
    if chain.on_chain is not None:
        extra = sorted(set(stored) - set(range(1, chain.on_chain + 1)))
        differences.extend(f"group {gid}: in the database but not on chain" for gid in extra)

    views, members = chain.views, chain.members
    rows: dict[int, list[str]] = {}
    for group_id, address in (
        Membership.objects.filter(group_id__in=list(views))
        .order_by("group_id", "position")
        .values_list("group_id", "user__address")
    ):
        rows.setdefault(group_id, []).append(address)

    for group_id in chain.ids_to_check:
        view = views.get(group_id)
        group = stored.get(group_id)
        if view is None and group is None:
            differences.append(f"group {group_id}: not on chain")
            continue
        if view is None:
            differences.append(f"group {group_id}: in the database but not on chain")
            continue
        if group is None:
            differences.append(f"group {group_id}: on chain but missing from the database")
            continue
        expected, actual = _expected(view), _actual(group)
        for key, value in expected.items():
            if actual[key] != value:
                differences.append(
                    f"group {group_id}: {key} is {actual[key]!r} in the database, "
                    f"{value!r} on chain"
                )
        chain_members = members.get(group_id, [])
        db_members = rows.get(group_id, [])
        if chain_members != db_members:
            differences.append(
                f"group {group_id}: members differ: database "
                f"{[to_checksum(a) for a in db_members]}, chain "
                f"{[to_checksum(a) for a in chain_members]}"
            )
    return differences


def group_state_differences() -> list[str]:
    """Database check: each indexed group's state is what its counters make."""
    return _verify_group_state()


_STATE_COLUMNS = ["status", "current_round", "next_deadline", "paid_this_round"]


def _verify_group_state(limit: int = 5) -> list[str]:
    """Status, current round, next deadline and round progress of every group indexed from
    events are what rules.group_state_from_counts makes of its counters. Groups holding
    values read from view functions keep the contract's state; the checks above hold those."""
    counters = [
        "start_time",
        "completed_block",
        "member_count",
        "max_members",
        "contribution_count",
        "payout_count",
        "frequency",
    ]
    rows = (
        Group.objects.filter(source=Group.Source.EVENTS, read_block__isnull=True)
        .values_list("id", *counters, *_STATE_COLUMNS)
        .order_by("id")
    )
    lines = []
    for group_id, start, completed, *counts, status, current, deadline, paid in rows.iterator(
        chunk_size=5_000
    ):
        members, max_members, contributions, payouts, frequency = counts
        state = rules.group_state_from_counts(
            started_at=int(start.timestamp()) if start is not None else None,
            completed=completed is not None,
            member_count=members,
            max_members=max_members,
            contribution_count=contributions,
            payout_count=payouts,
            frequency=frequency,
        )
        expected = (state.status, state.current_round, state.next_deadline, state.paid_this_round)
        actual = (status, current, int(deadline.timestamp()) if deadline else None, paid)
        if actual != expected:
            lines.append(
                f"group {group_id}: (status, current round, next deadline, paid this round) "
                f"{actual} in the database, {expected} from its counters"
            )
    return first_lines(lines, limit, "groups")


def first_lines(lines: list[str], limit: int, what: str) -> list[str]:
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"... and {len(lines) - limit} more {what} like these"]
