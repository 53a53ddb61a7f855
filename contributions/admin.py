"""Admin for contributions and payouts: read-only copies of contract events."""

from django.contrib import admin

from ajo.admin_display import admin_link, format_units, tx_html
from contributions.models import Contribution, Payout
from groups.admin import ChainDerivedAdmin


class EventAdmin(ChainDerivedAdmin):
    search_fields = ["=tx_hash", "=group__id"]
    show_full_result_count = False

    @admin.display(description="group", ordering="group_id")
    def group_link(self, obj):
        return admin_link(obj.group)

    @admin.display(description="amount")
    def display_amount(self, obj):
        token = obj.group.token
        return format_units(obj.amount, token.decimals, token.symbol)

    @admin.display(description="tx")
    def tx_display(self, obj):
        return tx_html(obj.tx_hash)

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_term.strip().lower())


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
    list_filter = ["is_late", "round"]
    search_fields = [*EventAdmin.search_fields, "=member__address"]
    list_select_related = ["group", "group__token", "member"]

    @admin.display(description="member", ordering="member__address")
    def member_link(self, obj):
        return admin_link(obj.member)


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
    list_filter = ["round"]
    search_fields = [*EventAdmin.search_fields, "=recipient__address"]
    list_select_related = ["group", "group__token", "recipient"]

    @admin.display(description="recipient", ordering="recipient__address")
    def recipient_link(self, obj):
        return admin_link(obj.recipient)
