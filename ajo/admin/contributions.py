"""Admin for contributions and payouts: read-only copies of contract events, newest first; and
the events' cards on the user and group pages."""

from django.contrib import admin
from django.db.models import Count, Q
from django.utils.safestring import mark_safe
from unfold.contrib.filters.admin import (
    AutocompleteSelectFilter,
    RangeDateTimeFilter,
    RangeNumericFilter,
    RelatedDropdownFilter,
)

from ajo.admin.base import (
    RELATED_ROWS,
    ChainDerivedAdmin,
    RoundFilter,
    related_card,
    uint256_range_filter,
)
from ajo.admin.display import address_html, admin_link, amount_html, changelist_url, tx_html
from ajo.admin.groups import GROUP_CARDS, USER_CARDS, GroupPage
from ajo.contract import rules
from contributions.models import Contribution, Payout
from groups.models import Group, Membership, User


class EventAdmin(ChainDerivedAdmin):
    search_fields = ["tx_hash"]
    search_help_text = "Tx hash, member address (any case), or group id"
    ordering = ["-block_number", "-log_index"]
    # Only what an index sorts (models.py): the event key, the id, and the group through
    # its unique (group, round, …) key. Rounds, amounts, lateness and times are filters.
    sortable_by = ["id", "group_link", "block_number"]

    @admin.display(description="group", ordering="group_id")
    def group_link(self, obj):
        return admin_link(obj.group)

    @admin.display(description="amount")
    def display_amount(self, obj):
        return amount_html(obj.amount, obj.group.token)

    @admin.display(description="tx")
    def tx_display(self, obj):
        return tx_html(obj.tx_hash)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("group", "group__token")


@admin.register(Contribution)
class ContributionAdmin(EventAdmin):
    list_display = [
        "id",
        "group_link",
        "member_link",
        "round",
        "display_amount",
        "late_shown",
        "block_number",
        "block_time",
        "tx_display",
    ]
    list_filter = [
        ("group", AutocompleteSelectFilter),
        ("member", AutocompleteSelectFilter),
        ("group__token", RelatedDropdownFilter),
        RoundFilter,
        "is_late",
        ("block_number", RangeNumericFilter),
        ("block_time", RangeDateTimeFilter),
        uint256_range_filter("amount", "amount (raw units)"),
    ]
    search_map = {
        "address": ["member__address"],
        "tx": ["tx_hash"],
        "number": ["group_id"],
    }
    list_select_related = ["group", "group__token", "member"]
    readonly_fields = [
        "group",
        "member",
        "member_address",
        "display_amount",
        "late_shown",
        "tx_display",
    ]
    fields = [
        "group",
        "member",
        "member_address",
        "round",
        "display_amount",
        "late_shown",
        ("block_number", "log_index"),
        "block_time",
        "tx_display",
    ]
    export_columns = [
        "id",
        "group_id",
        "@member__address",
        "round",
        "amount",
        "group__token__symbol",
        "is_late",
        "block_number",
        "log_index",
        "block_time",
        "tx_hash",
    ]

    @admin.display(description="member", ordering="member__address")
    def member_link(self, obj):
        return admin_link(obj.member)

    @admin.display(description="late")
    def late_shown(self, obj):
        """A late payment is a warning, not a green tick: an amber badge; on time is quiet."""
        if obj.is_late:
            return mark_safe(
                '<span class="ajo-late" title="Mined after the round\'s deadline">'
                '<span class="material-symbols-outlined md-18">schedule</span>late</span>'
            )
        return mark_safe('<span class="ajo-on-time">on time</span>')

    @admin.display(description="member address")
    def member_address(self, obj):
        return address_html(obj.member.address)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("member")


@admin.register(Payout)
class PayoutAdmin(EventAdmin):
    list_display = [
        "id",
        "group_link",
        "recipient_link",
        "round",
        "display_amount",
        "block_number",
        "block_time",
        "tx_display",
    ]
    list_filter = [
        ("group", AutocompleteSelectFilter),
        ("recipient", AutocompleteSelectFilter),
        ("group__token", RelatedDropdownFilter),
        RoundFilter,
        ("block_number", RangeNumericFilter),
        ("block_time", RangeDateTimeFilter),
        uint256_range_filter("amount", "amount (raw units)"),
    ]
    search_map = {
        "address": ["recipient__address"],
        "tx": ["tx_hash"],
        "number": ["group_id"],
    }
    search_help_text = "Tx hash, recipient address (any case), or group id"
    list_select_related = ["group", "group__token", "recipient"]
    readonly_fields = ["group", "recipient", "recipient_address", "display_amount", "tx_display"]
    fields = [
        "group",
        "recipient",
        "recipient_address",
        "round",
        "display_amount",
        ("block_number", "log_index"),
        "block_time",
        "tx_display",
    ]
    export_columns = [
        "id",
        "group_id",
        "@recipient__address",
        "round",
        "amount",
        "group__token__symbol",
        "block_number",
        "log_index",
        "block_time",
        "tx_hash",
    ]

    @admin.display(description="recipient", ordering="recipient__address")
    def recipient_link(self, obj):
        return admin_link(obj.recipient)

    @admin.display(description="recipient address")
    def recipient_address(self, obj):
        return address_html(obj.recipient.address)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("recipient")


# --- the events on the user and group pages ---------------------------------------------------

EVENT_HEADERS = ["id", "group", "who", "round", "amount", "block", "time", "tx"]


def event_row(event, token, who) -> list:
    return [
        admin_link(event, f"#{event.pk}"),
        admin_link(event.group, f"#{event.group_id}"),
        admin_link(who),
        event.round,
        amount_html(event.amount, token),
        event.block_number,
        event.block_time,
        tx_html(event.tx_hash),
    ]


@USER_CARDS.add
def user_event_cards(user: User) -> list[dict]:
    contributions = (
        Contribution.objects.filter(member=user)
        .select_related("group", "group__token")
        .order_by("-block_number", "-log_index")[:RELATED_ROWS]
    )
    payouts = (
        Payout.objects.filter(recipient=user)
        .select_related("group", "group__token")
        .order_by("-block_number", "-log_index")[:RELATED_ROWS]
    )
    return [
        related_card(
            "Latest contributions",
            EVENT_HEADERS,
            [event_row(c, c.group.token, user) for c in contributions],
            changelist_url(Contribution, member__id__exact=user.pk),
            user.contribution_count,
        ),
        related_card(
            "Payouts received",
            EVENT_HEADERS,
            [event_row(p, p.group.token, user) for p in payouts],
            changelist_url(Payout, recipient__id__exact=user.pk),
            user.payout_count,
        ),
    ]


def group_rounds(group: Group, members: list[Membership], payouts: list[Payout]) -> list[dict]:
    """Per round: how many paid (of how many), how many late, who is due the pot, who got it.

    "late" here counts late payments (rules.paid_late: the rows' is_late, set by
    rules.is_late), not the unpaid members past the deadline that the API's `late` adds
    (rules.behind): a past round's table stays what was paid, and counts in one query."""
    tallies = {
        row["round"]: row
        for row in Contribution.objects.filter(group_id=group.pk)
        .values("round")
        .annotate(paid=Count("id"), late=Count("id", filter=Q(is_late=True)))
    }
    by_round = {payout.round: payout for payout in payouts}
    by_position = {member.position: member for member in members}
    last_round = max([group.current_round, *tallies, *by_round, 0])
    rounds = []
    for number in range(1, last_round + 1):
        tally = tallies.get(number, {})
        due = by_position.get(number - 1)
        rounds.append(
            {
                "number": number,
                "paid": tally.get("paid", 0),
                "late": tally.get("late", 0),
                "members": group.member_count,
                "due": due.user if due else None,
                "payout": by_round.get(number),
                "current": rules.round_is_open(
                    status=group.status, current_round=group.current_round, round_number=number
                ),
            }
        )
    return rounds


@GROUP_CARDS.add
def group_event_cards(page: GroupPage) -> list[dict]:
    group = page.group
    token = group.token
    payouts = list(
        Payout.objects.filter(group_id=group.pk)
        .select_related("recipient", "group")
        .order_by("round")
    )
    contributions = (
        Contribution.objects.filter(group_id=group.pk)
        .select_related("member", "group")
        .order_by("-block_number", "-log_index")[:RELATED_ROWS]
    )
    rounds = group_rounds(group, page.members, payouts)
    return [
        related_card(
            "Rounds",
            ["round", "paid", "late", "pot goes to", "payout"],
            [
                [
                    f"{r['number']}" + (" (current)" if r["current"] else ""),
                    f"{r['paid']} / {r['members']}",
                    r["late"],
                    admin_link(r["due"]) if r["due"] else "-",
                    amount_html(r["payout"].amount, token) if r["payout"] else "not yet",
                ]
                for r in rounds
            ],
        ),
        related_card(
            "Latest contributions",
            EVENT_HEADERS,
            [event_row(c, token, c.member) for c in contributions],
            changelist_url(Contribution, group__id__exact=group.pk),
            group.contribution_count,
        ),
        related_card(
            "Payouts",
            EVENT_HEADERS,
            [event_row(p, token, p.recipient) for p in reversed(payouts[-RELATED_ROWS:])],
            changelist_url(Payout, group__id__exact=group.pk),
            group.payout_count,
        ),
    ]
