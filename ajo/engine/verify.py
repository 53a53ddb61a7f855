"""Compare the database with the chain, as of the indexed block: the contract's view
functions (each group's state and members, who paid each round, the rotation's payouts) and
the contract's logs (each group's events, counted).

Used by `manage.py verify_chain`, the admin's "verify against chain" action and the tests:
every difference comes back as one line a person can act on.
"""

from collections import Counter
from collections.abc import Iterable

from django.conf import settings

from ajo.addresses import to_checksum
from ajo.contract import rules
from ajo.contract.artifacts import EVENT_BY_TOPIC
from ajo.contract.deployment import contract_address
from ajo.contract.reader import ContractReader, GroupView
from ajo.engine import windows
from ajo.engine.rpc import RpcClient, RpcError
from ajo.fields import Uint256Sum
from ajo.models import SyncState
from contributions.models import Contribution, Payout
from groups.models import Group, Membership, Token, User


def _reader(client: RpcClient | None) -> ContractReader:
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
    # checkpoint reaches their read block (groups.chainview.view_reads_settle), and no such
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
    through = _indexed_block()
    differences.extend(_verify_payments(reader, views, members, through))
    differences.extend(_verify_payouts(views, members, through))
    if through is not None:
        differences.extend(_verify_event_counts(reader, through, group_ids))
    if group_ids is None:
        differences.extend(_verify_balances(reader))
        differences.extend(verify_database())
    return differences


def verify_database() -> list[str]:
    """What the database must hold whatever the chain says, checked without a node: every
    event row points at a stored group and user, membership and user totals equal the sums
    of their rows, and each indexed group's state follows from its counters. verify_groups
    runs it over the whole database; bench/dataset.py over the dataset it built."""
    return [*_verify_references(), *_verify_totals(), *_verify_group_state()]


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
    return _first(lines, limit, "groups")


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


def _indexed_block() -> int | None:
    state = SyncState.objects.filter(pk=1).first()
    return state.last_block if state else None


def _indexed(queryset, field: str, through: int | None):
    """Rows up to the indexed block: rows ingested ahead of the sync are not expected on
    chain as of that block yet."""
    return queryset if through is None else queryset.filter(**{f"{field}__lte": through})


def _verify_payments(reader: ContractReader, views, members, through) -> list[str]:
    """Every started group's rounds 1..currentRound, every member: a contribution row
    exactly when hasContributed says so (one batched eth_call per 500 checks)."""
    checks = [
        (group_id, round_number, member)
        for group_id, view in views.items()
        if view.current_round
        for round_number in range(1, view.current_round + 1)
        for member in members.get(group_id, [])
    ]
    on_chain = reader.has_contributed_many(checks) if checks else {}
    rows = _indexed(Contribution.objects.filter(group_id__in=list(views)), "block_number", through)
    stored = Counter(rows.values_list("group_id", "round", "member__address").order_by())
    lines = []
    for (g, r, m), paid in on_chain.items():
        count = stored.get((g, r, m), 0)
        if paid and not count:
            lines.append(
                f"group {g} round {r}: member {to_checksum(m)} paid on chain (hasContributed), "
                "the database has no contribution"
            )
        elif count and not paid:
            lines.append(
                f"group {g} round {r}: the database holds a contribution by member "
                f"{to_checksum(m)}, who has not paid that round on chain"
            )
        elif count > 1:
            lines.append(
                f"group {g} round {r}: the database holds {count} contributions by member "
                f"{to_checksum(m)}, the chain one"
            )
    for (g, r, m), count in sorted(stored.items(), key=str):
        # a round not started, or not a member (a row pointing at no stored user is one of
        # the references' differences)
        if (g, r, m) not in on_chain and m is not None:
            lines.append(
                f"group {g} round {r}: the database holds {count} contribution(s) by "
                f"{to_checksum(m)}, which the chain cannot have (not a member, or the round "
                "has not started)"
            )
    return lines


def _completed_rounds(view: GroupView) -> range:
    """The rounds that paid out: all but the current one while active, all when completed
    (the contract leaves currentRound at the last round then)."""
    if view.is_completed:
        return range(1, view.current_round + 1)
    return range(1, view.current_round) if view.current_round else range(0)


def _verify_payouts(views, members, through) -> list[str]:
    """Each completed round paid the member at position round - 1, once; no other payouts."""
    rows = _indexed(Payout.objects.filter(group_id__in=list(views)), "block_number", through)
    stored: dict[tuple[int, int], list[str]] = {}
    for group_id, round_number, recipient in rows.values_list(
        "group_id", "round", "recipient__address"
    ).order_by("group_id", "round"):
        stored.setdefault((group_id, round_number), []).append(recipient)
    lines = []
    for group_id, view in views.items():
        rotation = members.get(group_id, [])
        for round_number in _completed_rounds(view):
            expected = rotation[round_number - 1] if round_number <= len(rotation) else None
            paid = stored.pop((group_id, round_number), [])
            who = to_checksum(expected) if expected else "?"
            if not paid:
                lines.append(
                    f"group {group_id} round {round_number}: the payout to member {who} "
                    f"(position {round_number - 1}) is missing from the database"
                )
            elif paid != [expected]:
                lines.append(
                    f"group {group_id} round {round_number}: the database pays "
                    f"{[to_checksum(a) for a in paid]}, the rotation pays member {who} "
                    f"(position {round_number - 1})"
                )
    for (group_id, round_number), paid in sorted(stored.items()):
        lines.append(
            f"group {group_id} round {round_number}: the database holds a payout to "
            f"{', '.join(to_checksum(a) for a in paid)} for a round the chain has not paid out"
        )
    return lines


# What each event leaves in the database, counted per group (rows up to the indexed block).
_EVENT_ROWS = {
    "GroupCreated": "group",
    "MemberJoined": "memberships",
    "GroupStarted": "start",
    "ContributionMade": "contributions",
    "PayoutSent": "payouts",
    "GroupCompleted": "completion",
}


def _verify_event_counts(reader: ContractReader, through: int, group_ids) -> list[str]:
    """Per group and event, the contract's logs up to the indexed block against the rows
    they made. Catches what the view functions cannot show: a duplicated or invented row,
    an event of a group the checks above skip."""
    on_chain = _log_counts(reader, through, group_ids)
    stored = _row_counts(through, group_ids)
    lines = []
    for group_id, name in sorted(on_chain.keys() | stored.keys()):
        logs, rows = on_chain.get((group_id, name), 0), stored.get((group_id, name), 0)
        if logs != rows:
            lines.append(
                f"group {group_id}: {logs} {name} log(s) on chain through block {through}, "
                f"{rows} {_EVENT_ROWS[name]} row(s) in the database"
            )
    return lines


def _log_counts(reader: ContractReader, through: int, group_ids) -> Counter:
    """(group id, event name) -> logs of the contract up to `through`, from the start block
    (or the earliest of the given groups' creation), in windows that start at
    SYNC_BATCH_BLOCKS blocks, double while they come back light and halve on provider
    limits: a few groups' logs (the admin's action) are read in a few requests."""
    first = SyncState.objects.get(pk=1).start_block
    query: dict = {"address": reader.address}
    if group_ids is not None:
        query["topics"] = [None, [f"0x{g:064x}" for g in group_ids]]  # groupId is indexed
        created = Group.objects.filter(id__in=group_ids, created_block__isnull=False)
        if created.count() == len(set(group_ids)):
            first = max(first, min(created.values_list("created_block", flat=True)))
    size = max(settings.SYNC_BATCH_BLOCKS, 1)
    widest = size * 16
    counts: Counter = Counter()
    while first <= through:
        last = min(first + size - 1, through)
        try:
            logs = reader.client.call(
                "eth_getLogs", [{**query, "fromBlock": hex(first), "toBlock": hex(last)}]
            )
        except RpcError as exc:
            if windows.is_limit_error(exc) and last > first:
                size = max(1, (last - first + 1) // 2)
                continue
            raise
        for log in logs:
            name = EVENT_BY_TOPIC.get(log["topics"][0]) if log.get("topics") else None
            if name is not None and not log.get("removed"):
                counts[int(log["topics"][1], 16), name] += 1
        if len(logs) < windows.TARGET_LOGS // 2:
            size = min(size * 2, widest)
        first = last + 1
    return counts


def _row_counts(through: int, group_ids) -> Counter:
    from django.db.models import Count

    def per_group(queryset, field="group_id"):
        if group_ids is not None:
            queryset = queryset.filter(**{f"{field}__in": group_ids})
        return queryset.values_list(field).annotate(n=Count("pk")).order_by()

    groups = Group.objects.filter(source=Group.Source.EVENTS)
    counted = {
        "GroupCreated": per_group(groups.filter(created_block__lte=through), "id"),
        "MemberJoined": per_group(Membership.objects.filter(joined_block__lte=through)),
        "GroupStarted": per_group(groups.filter(started_block__lte=through), "id"),
        "ContributionMade": per_group(Contribution.objects.filter(block_number__lte=through)),
        "PayoutSent": per_group(Payout.objects.filter(block_number__lte=through)),
        "GroupCompleted": per_group(groups.filter(completed_block__lte=through), "id"),
    }
    counts: Counter = Counter()
    for name, rows in counted.items():
        for group_id, n in rows:
            counts[group_id, name] = n
    return counts


def _verify_balances(reader: ContractReader) -> list[str]:
    """The contract holds, per token, what was contributed and not yet paid out."""
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
