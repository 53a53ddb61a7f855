"""What every admin table shares: a read-only browser that sorts only as an index reads, counts
no big table, searches exactly and exports CSV; its range and round filters; the cards a detail
page shows below its form."""

from collections.abc import Callable
from typing import Generic, TypeVar

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ORDER_VAR
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Max
from django.http import HttpResponseBadRequest
from django.urls import path, reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import RangeNumericListFilter
from unfold.contrib.filters.forms import DropdownForm
from unfold.views import ChangeList

from ajo.admin.export import csv_response
from ajo.admin.paging import EstimatedCountPaginator
from ajo.admin.search import ExactSearchMixin
from ajo.fields import parse_uint256
from groups.models import Group

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
        return csv_response(changelist.queryset, self.export_columns)


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


class ChainDerivedAdmin(BrowserAdmin):
    """Every chain-derived table is a read-only browser."""


class RoundFilter(admin.SimpleListFilter):
    """Rounds 1..the largest group size: no DISTINCT over the events table."""

    title = "round"
    parameter_name = "round"
    template = "unfold/filters/filters_field.html"

    def lookups(self, request, model_admin):
        largest = Group.objects.aggregate(largest=Max("max_members"))["largest"] or 0
        return [(str(n), str(n)) for n in range(1, min(largest, 100) + 1)]

    def choices(self, changelist):
        yield {
            "form": DropdownForm(
                label=" By round ",
                name=self.parameter_name,
                choices=[("", "All"), *self.lookup_choices],
                data={self.parameter_name: self.value()},
            )
        }

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(round=int(value))
        return queryset


# --- detail pages -----------------------------------------------------------------------------

RELATED_ROWS = 20  # latest rows shown on a detail page; "see all N" links to the full list

Page = TypeVar("Page")


def related_card(title: str, headers: list[str], rows: list[list], all_url=None, total=None):
    """One card of a detail page: the latest rows, and a link to the whole filtered list."""
    action = None
    if all_url is not None:
        label = f"See all {total:,}" if total is not None else "See all"
        action = format_html('<a href="{}" class="text-primary-600">{} →</a>', all_url, label)
    return {
        "title": title,
        "action": action,
        "table": {"headers": headers, "rows": rows},
        "empty": not rows,
    }


class RelatedCards(Generic[Page]):
    """The cards below one kind of change form, from every admin module that has some.

    The module that owns the page declares one and fills it first; a module building on it
    adds its own cards after (`ajo.admin.contributions` adds the events to the user and group
    pages), so the owner never imports the modules that extend its pages.
    """

    def __init__(self) -> None:
        self._makers: list[Callable[[Page], list[dict]]] = []

    def add(self, maker: Callable[[Page], list[dict]]) -> Callable[[Page], list[dict]]:
        self._makers.append(maker)
        return maker

    def cards(self, page: Page) -> list[dict]:
        return [card for maker in self._makers for card in maker(page)]
