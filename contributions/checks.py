"""contributions' checks for verify_chain (registered by contributions.handlers).

Against the chain: who paid each round against `hasContributed`, each completed round's
payout against the rotation, each group's rows per event against the contract's logs, and
what the contract holds per token. The event counts cover groups' events too: contributions
builds on groups and sees every event's rows. Without a node: every event row points at a
stored group and user, and membership and user totals equal the sums of their rows.
"""

from collections import Counter
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Count, Exists, Max, OuterRef, Q

from ajo.addresses import to_checksum
from ajo.contract.artifacts import EVENT_BY_TOPIC
from ajo.contract.reader import ContractReader, GroupView
from ajo.fields import Uint256Sum
from ajo.models import SyncState
from contributions.models import Contribution, Payout
from groups.checks import chain_groups, first_lines, reader
from groups.models import Group, Membership, Token, User

if TYPE_CHECKING:
    from ajo.engine.registry import VerifyContext


def payments_against_chain(context: "VerifyContext") -> list[str]:
    """Chain check: payments, payouts, event counts and (for the whole database) balances."""
    chain = context.shared(chain_groups)
    view_reader = context.shared(reader)
    through = context.indexed
    differences = _verify_payments(view_reader, chain.views, chain.members, through)
    differences.extend(_verify_payouts(chain.views, chain.members, through))
    if through is not None:
        differences.extend(_verify_event_counts(context, through, chain.group_ids))
    if chain.group_ids is None:
        differences.extend(_verify_balances(view_reader))
    return differences


def rows_differences() -> list[str]:
    """Database check: references, then totals against the sums of their rows."""
    return [*_verify_references(), *_verify_totals()]


def _verify_totals(limit: int = 5) -> list[str]:
    """Membership and user totals, and payout flags, equal what their event rows add up to.

    The contract keeps no per-member totals, so they are checked against the rows (which the
    checks above hold to the chain). Rows waiting for the sync's roll-up are left out of the
    sums, and the wait is reported itself: after a finished sync, nothing waits."""
    differences, waiting = _roll_up_wait()
    differences += first_lines(_membership_totals_differences(waiting), limit, "memberships")
    differences += first_lines(_user_totals_differences(waiting), limit, "users")
    return differences


def _roll_up_wait():
    """(the wait as a difference, or none; a filter for the rows that wait)."""
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


def _verify_references() -> list[str]:
    """Every event row points at a stored group and user. The event tables keep these
    relations without database constraints (see contributions/models.py), so check here."""
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


def _verify_event_counts(context: "VerifyContext", through: int, group_ids) -> list[str]:
    """Per group and event, the contract's logs up to the indexed block against the rows
    they made. Catches what the view functions cannot show: a duplicated or invented row,
    an event of a group the checks above skip."""
    on_chain = _log_counts(context, through, group_ids)
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


def _log_counts(context: "VerifyContext", through: int, group_ids) -> Counter:
    """(group id, event name) -> logs of the contract up to `through`, from the start block
    (or the earliest of the given groups' creation), in windows that start at
    SYNC_BATCH_BLOCKS blocks and adapt to what comes back (context.read_logs): a few groups'
    logs (the admin's action) are read in a few requests."""
    first = context.start_block
    query: dict = {"address": context.contract}
    if group_ids is not None:
        query["topics"] = [None, [f"0x{g:064x}" for g in group_ids]]  # groupId is indexed
        created = Group.objects.filter(id__in=group_ids, created_block__isnull=False)
        if created.count() == len(set(group_ids)):
            first = max(first, min(created.values_list("created_block", flat=True)))
    counts: Counter = Counter()
    answers = context.read_logs(
        query, first=first, last=through, size=max(settings.SYNC_BATCH_BLOCKS, 1)
    )
    for logs in answers:
        for log in logs:
            name = EVENT_BY_TOPIC.get(log["topics"][0]) if log.get("topics") else None
            if name is not None and not log.get("removed"):
                counts[int(log["topics"][1], 16), name] += 1
    return counts


def _row_counts(through: int, group_ids) -> Counter:
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
