"""Admin for users, tokens, groups and memberships: read-only, relations one click away."""

from dataclasses import dataclass

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.html import format_html
from django.utils.text import Truncator
from unfold.contrib.filters.admin import (
    AutocompleteSelectFilter,
    ChoicesDropdownFilter,
    RangeDateTimeFilter,
    RangeNumericFilter,
    RelatedDropdownFilter,
)
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from ajo.admin.base import (
    CHAIN_ACTIONS_PERMISSION,
    RELATED_ROWS,
    BrowserAdmin,
    ChainDerivedAdmin,
    RelatedCards,
    related_card,
    uint256_range_filter,
)
from ajo.admin.display import address_html, admin_link, amount_html, changelist_url, tx_html
from ajo.engine.verify import verify
from groups.chainview import group_refresh_from_chain
from groups.models import Group, Membership, Token, User
from groups.selectors import group_members

# --- users ------------------------------------------------------------------------------------

USER_CARDS: RelatedCards[User] = RelatedCards()


@USER_CARDS.add
def user_groups_card(user: User) -> list[dict]:
    memberships = (
        Membership.objects.filter(user=user)
        .select_related("group", "group__token")
        .order_by("-group_id")[:RELATED_ROWS]
    )
    return [
        related_card(
            "Groups",
            ["group", "status", "position", "contributions", "contributed", "payout round"],
            [
                [
                    admin_link(m.group),
                    m.group.get_status_display(),
                    admin_link(m, str(m.position)),
                    m.contribution_count,
                    amount_html(m.total_contributed, m.group.token),
                    m.payout_round or "-",
                ]
                for m in memberships
            ],
            changelist_url(Membership, user__id__exact=user.pk),
            user.group_count,
        )
    ]


@admin.register(User)
class UserAdmin(BaseUserAdmin, BrowserAdmin):
    """Wallet users are chain data (read-only); staff accounts are set up by a superuser."""

    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    list_display = [
        "display_address",
        "username",
        "group_count",
        "contribution_count",
        "paid_in",
        "received",
        "is_staff",
    ]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    ordering = ["-id"]
    sortable_by = ["display_address", "username"]  # the unique ones; counts and totals are not
    search_fields = ["username"]
    search_map = {"address": ["address"], "text": ["username"], "number": ["id"]}
    search_help_text = "Wallet address (any case) or staff username"
    change_form_after_template = "admin/ajo/related_cards.html"
    chain_fields = [
        "address_display",
        "total_contributed",
        "total_received",
        "contribution_count",
        "payout_count",
        "group_count",
        "first_seen_block",
    ]
    readonly_fields = chain_fields
    fieldsets = [("Wallet", {"fields": chain_fields}), *BaseUserAdmin.fieldsets]
    export_columns = [
        "id",
        "@address",
        "username",
        "group_count",
        "contribution_count",
        "total_contributed",
        "payout_count",
        "total_received",
        "first_seen_block",
    ]

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        # Only staff accounts are edited (by a superuser); wallets are chain data.
        if obj is not None and obj.address:
            return False
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and (obj is None or not obj.address)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return super().get_fieldsets(request, obj)
        if obj.address:
            return [("Wallet", {"fields": self.chain_fields})]
        return list(BaseUserAdmin.fieldsets)

    @admin.display(description="address", ordering="address")
    def display_address(self, obj):
        return address_html(obj.address)

    @admin.display(description="address")
    def address_display(self, obj):
        return address_html(obj.address)

    @admin.display(description="paid in")
    def paid_in(self, obj):
        return amount_html(obj.total_contributed)

    @admin.display(description="received")
    def received(self, obj):
        return amount_html(obj.total_received)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, admin.utils.unquote(object_id))
        if obj is not None:
            extra_context = {**(extra_context or {}), "related_cards": USER_CARDS.cards(obj)}
        return super().change_view(request, object_id, form_url, extra_context)


# --- tokens -----------------------------------------------------------------------------------


@admin.register(Token)
class TokenAdmin(ChainDerivedAdmin):
    list_display = [
        "symbol",
        "name",
        "display_address",
        "decimals_shown",
        "group_count",
        "contribution_count",
        "contributed",
        "paid_out",
    ]
    search_fields = ["symbol"]
    search_map = {"address": ["address"], "text": ["symbol__iexact", "name__icontains"]}
    search_help_text = "Token address (any case) or symbol"
    ordering = ["symbol", "address"]
    readonly_fields = ["display_address", "decimals_shown", "contributed", "paid_out"]
    fields = [
        "display_address",
        "symbol",
        "name",
        "decimals_shown",
        "metadata_fetched",
        "group_count",
        "contribution_count",
        "contributed",
        "paid_out",
    ]
    export_columns = [
        "id",
        "@address",
        "symbol",
        "name",
        "decimals",
        "group_count",
        "contribution_count",
        "total_contributed",
        "total_paid_out",
    ]

    @admin.display(description="address", ordering="address")
    def display_address(self, obj):
        return address_html(obj.address)

    @admin.display(description="decimals", ordering="decimals")
    def decimals_shown(self, obj):
        return "unknown (raw units)" if obj.decimals is None else obj.decimals

    @admin.display(description="contributed")
    def contributed(self, obj):
        return amount_html(obj.total_contributed, obj)

    @admin.display(description="paid out")
    def paid_out(self, obj):
        return amount_html(obj.total_paid_out, obj)


# --- groups -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupPage:
    group: Group
    members: list[Membership]  # in rotation order, read once for every card that needs them


GROUP_CARDS: RelatedCards[GroupPage] = RelatedCards()


@GROUP_CARDS.add
def group_members_card(page: GroupPage) -> list[dict]:
    group = page.group
    return [
        related_card(
            f"Members in rotation order ({group.member_count} of {group.max_members})",
            ["position", "member", "joined", "contributions", "contributed", "paid out in"],
            [
                [
                    admin_link(m, str(m.position)),
                    admin_link(m.user),
                    m.joined_at or "-",
                    m.contribution_count,
                    amount_html(m.total_contributed, group.token),
                    f"round {m.payout_round}" if m.payout_round else "-",
                ]
                for m in page.members
            ],
            changelist_url(Membership, group__id__exact=group.pk),
            group.member_count,
        )
    ]


@admin.register(Group)
class GroupAdmin(ChainDerivedAdmin):
    list_display = [
        "id",
        "name_shown",
        "status",
        "token_link",
        "display_amount",
        "member_count",
        "max_members",
        "current_round",
        "next_deadline",
        "created_at",
    ]
    list_display_links = ["id", "name_shown"]
    # id, and status through group_status_idx (status, id); the name's index is a trigram
    # one for search, which sorts nothing.
    sortable_by = ["id", "status"]
    list_filter = [
        ("status", ChoicesDropdownFilter),
        ("token", RelatedDropdownFilter),
        ("creator", AutocompleteSelectFilter),
        "source",
        ("created_block", RangeNumericFilter),
        ("created_at", RangeDateTimeFilter),
        uint256_range_filter("contribution_amount", "contribution (raw units)"),
    ]
    search_fields = ["name"]
    search_map = {
        "number": ["id"],
        "address": ["creator__address", "token__address"],
        "tx": ["created_tx"],
        "text": ["name__icontains"],
    }
    search_help_text = "Group id or name, creator or token address, creation tx"
    list_select_related = ["token", "creator"]
    change_form_after_template = "admin/ajo/related_cards.html"
    readonly_fields = [
        "token",
        "creator",
        "display_amount",
        "frequency_shown",
        "contributed",
        "paid_out",
        "created_tx_display",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "status",
                    "token",
                    "creator",
                    "display_amount",
                    "frequency_shown",
                    ("member_count", "max_members"),
                    ("current_round", "paid_this_round"),
                    ("start_time", "next_deadline"),
                ]
            },
        ),
        (
            "Totals",
            {"fields": [("contribution_count", "contributed"), ("payout_count", "paid_out")]},
        ),
        (
            "On chain",
            {
                "fields": [
                    ("created_block", "created_at"),
                    "created_tx_display",
                    ("started_block", "completed_block", "completed_at"),
                    "source",
                ]
            },
        ),
    ]
    actions = ["refresh_from_chain", "verify_against_chain"]
    export_columns = [
        "id",
        "name",
        "status",
        "@token__address",
        "token__symbol",
        "@creator__address",
        "contribution_amount",
        "frequency",
        "max_members",
        "member_count",
        "current_round",
        "start_time",
        "next_deadline",
        "contribution_count",
        "total_contributed",
        "payout_count",
        "total_paid_out",
        "created_block",
        "created_tx",
        "created_at",
    ]

    def has_run_chain_actions_permission(self, request) -> bool:
        return request.user.has_perm(CHAIN_ACTIONS_PERMISSION)

    @admin.display(description="token", ordering="token__symbol")
    def token_link(self, obj):
        return admin_link(obj.token)

    @admin.display(description="contribution")
    def display_amount(self, obj):
        return amount_html(obj.contribution_amount, obj.token)

    @admin.display(description="contributed")
    def contributed(self, obj):
        return amount_html(obj.total_contributed, obj.token)

    @admin.display(description="paid out")
    def paid_out(self, obj):
        return amount_html(obj.total_paid_out, obj.token)

    @admin.display(description="name", ordering="name")
    def name_shown(self, obj):
        # names can be any length on chain: the list shows the start, the whole on hover
        return format_html('<span title="{}">{}</span>', obj.name, Truncator(obj.name).chars(60))

    @admin.display(description="round length")
    def frequency_shown(self, obj):
        days, rest = divmod(obj.frequency, 86400)
        hours, rest = divmod(rest, 3600)
        parts = [f"{days} d" if days else "", f"{hours} h" if hours else ""]
        text = " ".join(p for p in parts if p) or f"{obj.frequency} s"
        return f"{text} ({obj.frequency:,} seconds)"

    @admin.display(description="created in tx")
    def created_tx_display(self, obj):
        return tx_html(obj.created_tx)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("token", "creator")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, admin.utils.unquote(object_id))
        if obj is not None:
            page = GroupPage(group=obj, members=list(group_members(group_id=obj.pk)))
            extra_context = {**(extra_context or {}), "related_cards": GROUP_CARDS.cards(page)}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Refresh from chain", permissions=["run_chain_actions"])
    def refresh_from_chain(self, request, queryset):
        for group_id in queryset.values_list("id", flat=True)[:100]:
            try:
                group_refresh_from_chain(group_id=group_id)
            except Exception as exc:  # a node error for one group must not hide the others
                self.message_user(
                    request, f"Group #{group_id}: refresh failed: {exc}", messages.ERROR
                )
            else:
                self.message_user(request, f"Group #{group_id} refreshed from the chain.")

    @admin.action(description="Verify against chain", permissions=["run_chain_actions"])
    def verify_against_chain(self, request, queryset):
        group_ids = list(queryset.values_list("id", flat=True)[:500])
        try:
            differences = verify(scope=group_ids)
        except Exception as exc:  # the node may be down: say so instead of a 500
            self.message_user(request, f"Verification failed: {exc}", messages.ERROR)
            return
        if not differences:
            self.message_user(
                request,
                f"{len(group_ids)} group(s) agree with the chain.",
                messages.SUCCESS,
            )
            return
        for line in differences[:50]:
            self.message_user(request, line, messages.WARNING)
        if len(differences) > 50:
            self.message_user(
                request, f"… and {len(differences) - 50} more differences.", messages.WARNING
            )


# --- memberships ------------------------------------------------------------------------------


class ReceivedPayoutFilter(admin.SimpleListFilter):
    title = "received payout"
    parameter_name = "received"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(payout_round__isnull=False)
        if self.value() == "no":
            return queryset.filter(payout_round__isnull=True)
        return queryset


@admin.register(Membership)
class MembershipAdmin(ChainDerivedAdmin):
    list_display = [
        "id",
        "group_link",
        "user_link",
        "position",
        "contribution_count",
        "contributed",
        "payout_round",
        "joined_at",
        "joined_tx_display",
    ]
    list_filter = [
        ("group", AutocompleteSelectFilter),
        ("user", AutocompleteSelectFilter),
        ("group__status", ChoicesDropdownFilter),
        ReceivedPayoutFilter,
        ("joined_block", RangeNumericFilter),
        ("joined_at", RangeDateTimeFilter),
    ]
    search_fields = ["user__username"]
    search_map = {"address": ["user__address"], "number": ["group_id"], "tx": ["joined_tx"]}
    search_help_text = "Member address (any case), group id or join tx"
    list_select_related = ["group", "group__token", "user"]
    ordering = ["-id"]
    sortable_by = ["id", "group_link"]  # the group through its unique (group, user) key
    readonly_fields = ["group", "user", "contributed", "payout", "joined_tx_display"]
    fields = [
        "group",
        "user",
        "position",
        ("joined_block", "joined_at"),
        "joined_tx_display",
        ("contribution_count", "contributed"),
        ("payout_round", "payout"),
    ]
    export_columns = [
        "id",
        "group_id",
        "@user__address",
        "position",
        "joined_block",
        "joined_tx",
        "joined_at",
        "contribution_count",
        "total_contributed",
        "payout_round",
        "payout_amount",
    ]

    @admin.display(description="group", ordering="group_id")
    def group_link(self, obj):
        return admin_link(obj.group)

    @admin.display(description="member", ordering="user__address")
    def user_link(self, obj):
        return admin_link(obj.user)

    @admin.display(description="contributed")
    def contributed(self, obj):
        return amount_html(obj.total_contributed, obj.group.token)

    @admin.display(description="payout")
    def payout(self, obj):
        return amount_html(obj.payout_amount, obj.group.token)

    @admin.display(description="joined tx")
    def joined_tx_display(self, obj):
        return tx_html(obj.joined_tx)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("group", "group__token", "user")
