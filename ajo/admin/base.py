"""What every admin table shares: a read-only browser that sorts only as an index reads, counts
no big table, searches exactly and exports CSV; its range and round filters; the cards a detail
page shows below its form."""

from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import label_for_field
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Max
from django.http import HttpResponseBadRequest
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.http import urlencode
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import RangeNumericListFilter
from unfold.contrib.filters.forms import DropdownForm
from unfold.views import ChangeList

from ajo.admin import conditions
from ajo.admin.export import csv_response
from ajo.admin.limits import QueryTimeout, statement_timeout
from ajo.admin.paging import EstimatedCountPaginator
from ajo.admin.results import results_context
from ajo.admin.savedviews import may_delete, roles_for, saved_view_list
from ajo.admin.search import ExactSearchMixin
from ajo.fields import parse_uint256
from groups.models import Group

COLUMNS_VAR = "cols"  # visible columns, in order: list_display names joined by commas
VIEW_VAR = "view"  # the saved view a list was opened from (its name is shown)
FRAGMENT_TARGET = "ajo-results"  # the element partial page updates swap
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

    filter: conditions.Filter
    timeout: QueryTimeout | None = None

    def get_filters_params(self, params=None):
        # The builder's conditions, the columns and the saved view are this list's own
        # parameters, not field lookups for Django's filters.
        lookup = super().get_filters_params(params)
        for name in list(lookup):
            if conditions.is_filter_param(name) or name in (COLUMNS_VAR, VIEW_VAR):
                del lookup[name]
        return lookup

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        self.filter = conditions.parse_filter(request.GET, self.model_admin.filter_columns())
        if self.filter.errors:
            return queryset.none()  # the page shows each error beside its condition
        if self.filter.active:
            queryset = queryset.filter(self.filter.q())
        return queryset

    def get_results(self, request):
        """Count and read the page; a filter no index serves does it under a time limit."""
        if not self.filter.active or self.filter.errors or self.filter.index_served:
            super().get_results(request)
            self.result_list = list(self.result_list)
            return
        try:
            with statement_timeout(using=self.queryset.db, seconds=settings.ADMIN_FILTER_TIMEOUT):
                super().get_results(request)
                self.result_list = list(self.result_list)  # read here, inside the limit
        except QueryTimeout as exc:
            self.timeout = exc
            self.queryset = self.queryset.none()
            super().get_results(request)
            self.result_list = []

    def page_url(self, number: int) -> str:
        return self.get_query_string({PAGE_VAR: number})

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

    change_list_template = "admin/ajo/change_list.html"

    def get_changelist(self, request, **kwargs):
        return BrowserChangeList

    def filter_columns(self) -> list[conditions.Column]:
        """The columns the filter builder offers: every column of the table."""
        return conditions.model_columns(self.model)

    def get_list_display(self, request):
        """`?cols=` shows the listed columns in that order (unknown names are dropped)."""
        full = list(super().get_list_display(request))
        wanted = [name for name in request.GET.get(COLUMNS_VAR, "").split(",") if name in full]
        return list(dict.fromkeys(wanted)) or full

    def get_list_display_links(self, request, list_display):
        """The declared links (by default the table's first column) where they are shown, else
        the first column shown: a row always opens."""
        declared = self.list_display_links or list(super().get_list_display(request))[:1]
        links = [name for name in declared if name in list_display]
        return links or [name for name in list_display if name != "action_checkbox"][:1]

    def column_choices(self, request) -> list[dict]:
        visible = self.get_list_display(request)
        full = list(super().get_list_display(request))
        ordered = visible + [name for name in full if name not in visible]
        return [
            {
                "name": name,
                "label": str(label_for_field(name, self.model, self)),
                "visible": name in visible,
            }
            for name in ordered
        ]

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

    @property
    def media(self):
        # A read-only list needs neither the slug scripts of add forms (urlify, XRegExp,
        # prepopulate: 50 kB) nor the actions script when it has no actions.
        media = super().media
        unused = ("admin/js/urlify", "admin/js/prepopulate", "admin/js/vendor/xregexp/")
        if not self.actions:
            unused += ("admin/js/actions",)
        media._js_lists = [[js for js in media._js if not str(js).startswith(unused)]]
        return media

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        meta = self.model._meta
        if self.export_columns and self.has_export_permission(request):
            url = reverse(f"admin:{meta.app_label}_{meta.model_name}_export")
            query = request.GET.urlencode()
            extra_context["export_url"] = f"{url}?{query}" if query else url
        columns = self.filter_columns()
        extra_context.update(
            {
                "filter_columns": columns,
                "filter_spec": {
                    column.key: {
                        "kind": column.kind,
                        "operators": column.operators,
                        "choices": column.choices,
                    }
                    for column in columns
                },
                "filter_operators": conditions.OPERATORS,
                "column_choices": self.column_choices(request),
                "viewer_zone": timezone.get_current_timezone_name(),
                "changelist_path": request.path,
            }
        )
        response = super().changelist_view(request, extra_context)
        if getattr(response, "template_name", None) and is_fragment_request(request):
            response.template_name = "admin/ajo/results_fragment.html"
        if hasattr(response, "headers"):
            response.headers["Vary"] = "HX-Request, HX-Target"
        context = getattr(response, "context_data", None) or {}
        cl = context.get("cl")
        if isinstance(cl, BrowserChangeList):
            context["ajo"] = results_context(cl)
            context["fragment"] = is_fragment_request(request)
            # A page change (the pager's links) leaves the toolbar and the search as they are.
            context["page_only"] = request.headers.get("X-Ajo-Part") == "page"
            context["preserved"] = [
                (name, value)
                for name, values in request.GET.lists()
                if not conditions.is_filter_param(name) and name != PAGE_VAR
                for value in values
            ]
            context.update(self._toolbar_context(request, cl))
            if cl.filter.errors:
                response.status_code = 400  # the page says which condition and why
        return response

    def _toolbar_context(self, request, cl) -> dict:
        """Saved view, sort and column details the toolbar's forms need."""
        meta = self.model._meta
        view = None
        view_id = request.GET.get(VIEW_VAR, "")
        if view_id.isdigit():
            view = saved_view_list(user=request.user).filter(pk=int(view_id)).first()
        order = cl._sortable_order()
        return {
            "saved_view": view,
            "can_delete_view": view is not None and may_delete(user=request.user, view=view),
            "save_view_url": reverse(
                "admin:ajo_saved_view_save", args=[meta.app_label, meta.model_name]
            ),
            "delete_view_url": reverse("admin:ajo_saved_view_delete", args=[view.pk])
            if view
            else "",
            "save_roles": list(roles_for(request.user)) if not is_fragment_request(request) else [],
            "view_query": _query_without(request, {PAGE_VAR, VIEW_VAR})[1:],
            "clear_conditions_query": _query_without(
                request, lambda name: conditions.is_filter_param(name) or name == PAGE_VAR
            ),
            "sort_name": order[1] if order else "",
            "sort_desc": bool(order and order[0]),
            "column_offset": 1 if "action_checkbox" in cl.list_display else 0,
            "filter_timeout": settings.ADMIN_FILTER_TIMEOUT,
        }

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


def _query_without(request, names) -> str:
    pairs = [
        (name, value)
        for name, values in request.GET.lists()
        if not (names(name) if callable(names) else name in names)
        for value in values
    ]
    return ("?" + urlencode(pairs)) if pairs else ""


def is_fragment_request(request) -> bool:
    """An htmx request for the results alone (not a history restore, which needs the page)."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Target") == FRAGMENT_TARGET
        and headers.get("HX-History-Restore-Request") != "true"
    )


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
    """Rounds 1..the largest group size: no DISTINCT over the events table. The choices are
    read only when the filter is drawn (a partial update draws no filters)."""

    title = "round"
    parameter_name = "round"
    template = "unfold/filters/filters_field.html"

    def __init__(self, request, params, model, model_admin):
        self._request, self._model_admin = request, model_admin
        admin.ListFilter.__init__(self, request, params, model, model_admin)
        if self.parameter_name in params:
            self.used_parameters[self.parameter_name] = params.pop(self.parameter_name)[-1]

    @cached_property
    def lookup_choices(self):
        return list(self.lookups(self._request, self._model_admin))

    def has_output(self) -> bool:
        return True

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
