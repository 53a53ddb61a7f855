"""Admin for users, tokens, groups and memberships. Chain-derived rows are read-only."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from unfold.admin import ModelAdmin, TabularInline

from ajo.admin_display import address_html, admin_link, format_units, tx_html
from groups.models import Group, Membership, Token, User


class ChainDerivedAdmin(ModelAdmin):
    """The chain is the source of truth: no add, change or delete by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin, ModelAdmin):
    list_display = [
        "display_address",
        "username",
        "group_count",
        "contribution_count",
        "total_contributed",
        "total_received",
        "is_staff",
    ]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["=address", "username"]
    readonly_fields = [
        "address",
        "total_contributed",
        "total_received",
        "contribution_count",
        "payout_count",
        "group_count",
        "first_seen_block",
    ]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        (
            "Wallet",
            {"fields": readonly_fields},
        ),
    ]

    @admin.display(description="address", ordering="address")
    def display_address(self, obj):
        return address_html(obj.address)

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_term.strip().lower())


@admin.register(Token)
class TokenAdmin(ChainDerivedAdmin):
    list_display = ["symbol", "display_address", "decimals", "group_count", "contribution_count"]
    search_fields = ["=address", "symbol"]

    @admin.display(description="address", ordering="address")
    def display_address(self, obj):
        return address_html(obj.address)


class MembershipInline(TabularInline):
    model = Membership
    fields = ["position", "user", "joined_at", "contribution_count", "payout_round"]
    readonly_fields = fields
    ordering = ["position"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Group)
class GroupAdmin(ChainDerivedAdmin):
    list_display = [
        "id",
        "name",
        "status",
        "token_link",
        "display_amount",
        "member_count",
        "max_members",
        "current_round",
        "next_deadline",
        "created_at",
    ]
    list_filter = ["status", "token", "source"]
    search_fields = ["=id", "name"]
    list_select_related = ["token", "creator"]
    inlines = [MembershipInline]
    show_full_result_count = False

    @admin.display(description="token", ordering="token__symbol")
    def token_link(self, obj):
        return admin_link(obj.token)

    @admin.display(description="contribution")
    def display_amount(self, obj):
        return format_units(obj.contribution_amount, obj.token.decimals, obj.token.symbol)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if term and not term.isdigit():
            return queryset.filter(name__icontains=term), False
        return super().get_search_results(request, queryset, term)


@admin.register(Membership)
class MembershipAdmin(ChainDerivedAdmin):
    list_display = [
        "id",
        "group_link",
        "user_link",
        "position",
        "contribution_count",
        "payout_round",
        "joined_at",
        "joined_tx_display",
    ]
    list_filter = ["group__status"]
    search_fields = ["=user__address", "=group__id"]
    list_select_related = ["group", "user"]
    show_full_result_count = False

    @admin.display(description="group", ordering="group_id")
    def group_link(self, obj):
        return admin_link(obj.group)

    @admin.display(description="member", ordering="user__address")
    def user_link(self, obj):
        return admin_link(obj.user)

    @admin.display(description="joined tx")
    def joined_tx_display(self, obj):
        return tx_html(obj.joined_tx)

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_term.strip().lower())
