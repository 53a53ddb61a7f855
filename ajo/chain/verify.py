"""Compare the database with the contract's view functions, as of the indexed block.

Used by `manage.py verify_chain`, the admin's "verify against chain" action and the tests:
every difference comes back as one line a person can act on.
"""

from collections.abc import Iterable

from django.conf import settings

from ajo.addresses import to_checksum
from ajo.chain.reader import ContractReader, GroupView
from ajo.chain.rpc import RpcClient
from ajo.models import SyncState
from groups.models import Group, Membership


def _reader(client: RpcClient | None) -> ContractReader:
    from ajo.chain.sync import contract_address

    client = client or RpcClient(settings.CHAIN_RPC_URL)
    state = SyncState.objects.filter(pk=1).first()
    # Compare against the chain as of the indexed block: later blocks are not expected yet.
    block = state.last_block if state and state.last_block is not None else "latest"
    return ContractReader(client, contract_address(), block=block)


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


def verify_groups(
    *, group_ids: Iterable[int] | None = None, client: RpcClient | None = None
) -> list[str]:
    """Differences between the database and the chain for these groups (all when None)."""
    reader = _reader(client)
    if group_ids is not None:
        group_ids = sorted(set(group_ids))
    # Groups holding values read from view functions ahead of the checkpoint (a seat, a
    # start) are not the index's yet: the sync confirms or drops those values when its
    # checkpoint reaches their read block (groups.services.view_reads_settle), and no such
    # value is left at or below the checkpoint after a window. Checked from then on.
    state = SyncState.objects.filter(pk=1).first()
    checkpoint = state.last_block if state is not None else None
    read = dict(Group.objects.filter(read_block__isnull=False).values_list("id", "read_block"))
    read_ahead = {i for i, block in read.items() if checkpoint is None or block > checkpoint}
    differences: list[str] = [
        f"group {i}: holds values read from view functions at block {block}, which is "
        f"indexed: the sync should have confirmed or dropped them"
        for i, block in sorted(read.items())
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

    if group_ids is None:
        on_chain = reader.group_count()
        ids_to_check = [i for i in range(1, on_chain + 1) if i not in read_ahead]
        extra = sorted(set(stored) - set(range(1, on_chain + 1)))
        differences.extend(f"group {gid}: in the database but not on chain" for gid in extra)
    else:
        ids_to_check = [i for i in group_ids if i not in read_ahead]

    views = reader.get_groups(ids_to_check)
    members = reader.get_members_many(list(views))
    rows: dict[int, list[str]] = {}
    for group_id, address in (
        Membership.objects.filter(group_id__in=list(views))
        .order_by("group_id", "position")
        .values_list("group_id", "user__address")
    ):
        rows.setdefault(group_id, []).append(address)

    for group_id in ids_to_check:
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
    differences.extend(_verify_current_round(reader, views, members))
    if group_ids is None:
        differences.extend(_verify_balances(reader))
        differences.extend(_verify_references())
        differences.extend(_verify_totals())
    return differences


def _verify_totals(limit: int = 5) -> list[str]:
    """Membership and user totals, and payout flags, equal what their event rows add up to.

    The contract keeps no per-member totals, so they are checked against the rows (which the
    checks above hold to the chain). Rows waiting for the sync's roll-up are left out of the
    sums, and the wait is reported itself: after a finished sync, nothing waits."""
    differences, waiting = _roll_up_wait()
    differences += _first(_membership_totals_differences(waiting), limit, "memberships")
    differences += _first(_user_totals_differences(waiting), limit, "users")
    return differences


def _roll_up_wait():
    """(the wait as a difference, or none; a filter for the rows that wait)."""
    from django.db.models import Q

    state = SyncState.objects.filter(pk=1).first()
    waiting = state.waiting_roll_up if state is not None else None
    if waiting is None:
        return [], Q(pk__in=[])
    after, through = waiting
    return [
        f"membership and user totals are rolled up to block {after}, the checkpoint is "
        f"block {through}: sync_chain rolls up the rest when it ends"
    ], Q(block_number__gt=after, block_number__lte=through)


def _sums(model, keys: list[str], waiting, **aggregates) -> dict[tuple, dict]:
    rows = model.objects.exclude(waiting).values(*keys).annotate(**aggregates).order_by()
    return {tuple(row[key] for key in keys): row for row in rows}


def _membership_totals_differences(waiting) -> list[str]:
    from django.db.models import Count, Max

    from ajo.fields import Uint256Sum
    from contributions.models import Contribution, Payout

    paid = _sums(
        Contribution, ["group_id", "member_id"], waiting, total=Uint256Sum("amount"), n=Count("id")
    )
    # one payout per member and group
    received = _sums(
        Payout, ["group_id", "recipient_id"], waiting, round=Max("round"), amount=Max("amount")
    )
    columns = ["total_contributed", "contribution_count", "payout_round", "payout_amount"]
    lines = []
    for row in Membership.objects.values("group_id", "user_id", "user__address", *columns).order_by(
        "group_id", "position"
    ):
        key = (row["group_id"], row["user_id"])
        own, payout = paid.get(key, {}), received.get(key, {})
        expected = (own.get("total", 0), own.get("n", 0), payout.get("round"), payout.get("amount"))
        actual = tuple(row[column] for column in columns)
        if actual != expected:
            lines.append(
                f"group {key[0]}: member {to_checksum(row['user__address'])} has "
                f"(contributed, contributions, payout round, payout) {actual} in the database, "
                f"{expected} from its rows"
            )
    return lines


def _user_totals_differences(waiting) -> list[str]:
    from django.db.models import Count

    from ajo.fields import Uint256Sum
    from contributions.models import Contribution, Payout
    from groups.models import User

    paid = _sums(Contribution, ["member_id"], waiting, total=Uint256Sum("amount"), n=Count("id"))
    received = _sums(Payout, ["recipient_id"], waiting, total=Uint256Sum("amount"), n=Count("id"))
    columns = ["total_contributed", "contribution_count", "total_received", "payout_count"]
    lines = []
    wallets = User.objects.filter(address__isnull=False)
    for row in wallets.values("id", "address", *columns).order_by("id"):
        own, payouts = paid.get((row["id"],), {}), received.get((row["id"],), {})
        expected = (
            own.get("total", 0),
            own.get("n", 0),
            payouts.get("total", 0),
            payouts.get("n", 0),
        )
        actual = tuple(row[column] for column in columns)
        if actual != expected:
            lines.append(
                f"user {to_checksum(row['address'])}: (contributed, contributions, received, "
                f"payouts) {actual} in the database, {expected} from their rows"
            )
    return lines


def _first(lines: list[str], limit: int, what: str) -> list[str]:
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"... and {len(lines) - limit} more {what} like these"]


def _verify_references() -> list[str]:
    """Every event row points at a stored group and user. The event tables keep these
    relations without database constraints (see contributions/models.py), so check here."""
    from django.db.models import Exists, OuterRef

    from contributions.models import Contribution, Payout
    from groups.models import User

    differences = []
    for model, user_field in ((Contribution, "member_id"), (Payout, "recipient_id")):
        label = model._meta.verbose_name_plural
        for target, field in ((Group, "group_id"), (User, user_field)):
            missing = model.objects.exclude(
                Exists(target.objects.filter(pk=OuterRef(field)))
            ).count()
            if missing:
                differences.append(
                    f"{missing} {label} point at a {target._meta.verbose_name} that is not stored"
                )
    return differences


def _verify_current_round(reader: ContractReader, views, members) -> list[str]:
    """Who has paid in each active group's current round, as hasContributed says."""
    from contributions.models import Contribution

    checks = [
        (group_id, view.current_round, member)
        for group_id, view in views.items()
        if view.is_active
        for member in members.get(group_id, [])
    ]
    if not checks:
        return []
    on_chain = reader.has_contributed_many(checks)
    active = {group_id: view.current_round for group_id, view in views.items() if view.is_active}
    paid = set()
    for group_id, round_number, member in Contribution.objects.filter(
        group_id__in=list(active)
    ).values_list("group_id", "round", "member__address"):
        if active[group_id] == round_number:
            paid.add((group_id, round_number, member))
    return [
        f"group {g}: {to_checksum(m)} has {'' if chain else 'not '}paid round {r} on chain, "
        f"the database says the opposite"
        for (g, r, m), chain in on_chain.items()
        if chain != ((g, r, m) in paid)
    ]


def _verify_balances(reader: ContractReader) -> list[str]:
    """The contract holds, per token, what was contributed and not yet paid out."""
    from groups.models import Token

    differences = []
    for token in Token.objects.all():
        held = reader.token_balance(token.address, reader.address)
        expected = token.total_contributed - token.total_paid_out
        if held != expected:
            differences.append(
                f"token {to_checksum(token.address)}: the contract holds {held}, the database "
                f"says {expected} (contributed {token.total_contributed} - paid out "
                f"{token.total_paid_out}; tokens sent to the contract directly also show here)"
            )
    return differences
