"""Admin for contributions and payouts: read-only copies of contract events, newest first."""

from django.contrib import admin
from unfold.contrib.filters.admin import (
    AutocompleteSelectFilter,
    RangeDateTimeFilter,
    RangeNumericFilter,
    RelatedDropdownFilter,
)

from ajo.admin import uint256_range_filter
from ajo.admin_display import address_html, admin_link, amount_html, tx_html
from contributions.models import Contribution, Payout
from groups.admin import ChainDerivedAdmin, RoundFilter


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
        "is_late",
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
    readonly_fields = ["group", "member", "member_address", "display_amount", "tx_display"]
    fields = [
        "group",
        "member",
        "member_address",
        "round",
        "display_amount",
        "is_late",
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
