"""The admin base every table shares (read-only, exact search, no big COUNT, CSV export), and
the admin for the sync bookkeeping and access control."""

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ORDER_VAR
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.models import Group as Role
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import RangeNumericListFilter
from unfold.views import ChangeList

from ajo.admin_display import (
    EstimatedCountPaginator,
    ExactSearchMixin,
    address_html,
    columns_from,
    csv_rows,
    tx_html,
)
from ajo.fields import parse_uint256
from ajo.models import BlockRecord, SyncState

EXPORT_PERMISSION = "groups.export_data"
CHAIN_ACTIONS_PERMISSION = "groups.run_chain_actions"


class BrowserChangeList(ChangeList):
    """A changelist that sorts only as an index reads.

    Django's admin sorts by any `?o=` column whatever `sortable_by` says (it only hides the
    header links), and breaks ties with `-pk` whatever the direction: on a million rows
    either is a full sort per page. Here `?o=` keeps its first column that `sortable_by`
    lists (anything else is dropped, no error), and that column is completed the way an
    index holds it: alone if it is unique, else by the unique constraint that starts with it,
    else by the primary key in the same direction (an index `(column, id)` or a short sort
    within each value).
    """

    def get_ordering(self, request, queryset):
        order = self._sortable_order()
        if order is None:
            # the page's links do not carry a refused sort either
            self.params.pop(ORDER_VAR, None)
            self.filter_params.pop(ORDER_VAR, None)
            return super().get_ordering(request, queryset)
        descending, field_name = order
        value = ("-" if descending else "") + str(self.list_display.index(field_name))
        self.params[ORDER_VAR] = value
        self.filter_params[ORDER_VAR] = [value]
        return index_ordering(self.model, self.get_ordering_field(field_name), descending)

    def _sortable_order(self) -> tuple[bool, str] | None:
        """(descending, list_display name) of the first `?o=` column that may be sorted."""
        for part in str(self.params.get(ORDER_VAR) or "").split("."):
            _, prefix, index = part.rpartition("-")
            if not index.isdigit() or int(index) >= len(self.list_display):
                continue
            field_name = self.list_display[int(index)]
            if self.sortable_by is not None and field_name not in self.sortable_by:
                continue
            order_field = self.get_ordering_field(field_name)
            if isinstance(order_field, str) and order_field:
                return prefix == "-", field_name
        return None

    def _get_deterministic_ordering(self, ordering):
        # (block_number, log_index) is unique per event table (a log index is unique in its
        # block), so no "-pk" tie-breaker: the ordering stays the one the index serves.
        # ChangeList appends the queryset's own order_by, so parts can repeat.
        unique = list(dict.fromkeys(part for part in ordering if isinstance(part, str)))
        if len(unique) == len(set(map(str, ordering))) == 2 and [
            part.lstrip("-") for part in unique
        ] == ["block_number", "log_index"]:
            return unique
        return super()._get_deterministic_ordering(ordering)


class BrowserAdmin(ExactSearchMixin, ModelAdmin):
    """Read-only table browser: the chain is the source of truth, nobody edits rows by hand."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 25
    list_filter_submit = True
    list_before_template = "admin/ajo/list_before.html"
    # (label or path) for the CSV; "@path" marks an address, written checksummed.
    export_columns: list = []

    def get_changelist(self, request, **kwargs):
        return BrowserChangeList

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_export_permission(self, request) -> bool:
        return self.has_view_permission(request) and request.user.has_perm(EXPORT_PERMISSION)

    def get_urls(self):
        meta = self.model._meta
        return [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_csv_view),
                name=f"{meta.app_label}_{meta.model_name}_export",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        if self.export_columns and self.has_export_permission(request):
            meta = self.model._meta
            url = reverse(f"admin:{meta.app_label}_{meta.model_name}_export")
            query = request.GET.urlencode()
            extra_context["export_url"] = f"{url}?{query}" if query else url
        return super().changelist_view(request, extra_context)

    def export_csv_view(self, request):
        """The whole filtered list (what the changelist shows, every page), streamed."""
        if not self.export_columns or not self.has_export_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest(
                "The export link has a filter this list does not know; "
                "open the list, set the filters again and export from there.",
                content_type="text/plain",
            )
        meta = self.model._meta
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(
            csv_rows(changelist.queryset, columns_from(self.export_columns)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="{meta.app_label}-{meta.model_name}-{stamp}.csv"'
        )
        return response


def index_ordering(model, order_field: str, descending: bool) -> list[str]:
    """`order_field` and what makes it a total order, in the direction an index reads it."""
    name = order_field
    if name.startswith("-"):  # a column declared descending: "-o" reads it ascending
        name, descending = name[1:], not descending
    sign = "-" if descending else ""
    if "__" in name:  # another table's column: no index of this one holds its order
        return [sign + name, sign + "pk"]
    meta = model._meta
    field = meta.pk if name == "pk" else meta.get_field(name)
    if field.primary_key or field.unique:
        return [sign + name]
    for constraint in meta.constraints:
        fields = list(getattr(constraint, "fields", ()))
        if (
            isinstance(constraint, models.UniqueConstraint)
            and constraint.condition is None
            and fields
            and meta.get_field(fields[0]).attname == field.attname
        ):
            return [sign + meta.get_field(part).attname for part in fields]
    return [sign + name, sign + "pk"]


def uint256_range_filter(field: str, label: str):
    """A from/to filter on a uint256 column: exact integers (raw units) on both databases."""

    class Uint256RangeFilter(RangeNumericListFilter):
        parameter_name = field
        title = label

        def queryset(self, request, queryset):
            filters = {}
            for suffix, lookup in (("_from", "gte"), ("_to", "lte")):
                raw = self.used_parameters.get(f"{field}{suffix}")
                if raw in (None, ""):
                    continue
                try:
                    value = parse_uint256(str(raw).replace(",", "").replace("_", ""))
                except ValueError as exc:
                    raise IncorrectLookupParameters(str(exc)) from exc
                filters[f"{field}__{lookup}"] = value
            return queryset.filter(**filters)

    return Uint256RangeFilter


@admin.register(SyncState)
class SyncStateAdmin(BrowserAdmin):
    list_display = [
        "chain_id",
        "contract",
        "last_block",
        "head_block",
        "lag_blocks",
        "head_seen_at",
        "total_events",
        "reorg_count",
        "last_run_finished_at",
        "failing",
    ]
    readonly_fields = ["contract", "failing"]
    export_columns = ["chain_id", "@contract_address", "last_block", "head_block"]

    @admin.display(description="contract", ordering="contract_address")
    def contract(self, obj):
        return address_html(obj.contract_address)

    @admin.display(description="failing window")
    def failing(self, obj):
        """The window the sync cannot apply, in red, until it commits (see sync.run)."""
        if not obj.failure_attempts:
            return "-"
        return format_html(
            '<span class="text-red-600">{}</span><br><span class="text-xs">'
            "{} attempt(s) since {}; next: {}</span>",
            obj.failure,
            obj.failure_attempts,
            obj.failure_since,
            obj.failure_retry_at or "when sync_chain runs again",
        )


@admin.register(BlockRecord)
class BlockRecordAdmin(BrowserAdmin):
    list_display = ["number", "block_hash", "timestamp"]
    sortable_by = ["number"]  # one row per indexed block: the key is the only index
    search_fields = ["number"]
    search_map = {"number": ["number"], "tx": ["hash"]}
    search_help_text = "Block number or block hash"
    export_columns = ["number", "hash", "timestamp"]

    @admin.display(description="hash")
    def block_hash(self, obj):
        return tx_html(obj.hash)


# Access: the roles (Django auth groups) and what they hold, under "Access" in the sidebar.
admin.site.unregister(Role)


@admin.register(Role)
class RoleAdmin(BaseGroupAdmin, ModelAdmin):
    pass


@admin.register(Permission)
class PermissionAdmin(ModelAdmin):
    list_display = ["name", "content_type", "codename"]
    list_filter = ["content_type__app_label"]
    search_fields = ["codename", "name"]
    list_select_related = ["content_type"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
