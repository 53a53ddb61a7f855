"""How chain values look in the admin, and the admin plumbing every table shares.

Checksummed, copyable addresses; explorer links; amounts in token units beside the exact raw
value; a paginator that never counts a big table; search that matches an address, tx hash or
number exactly through an index; CSV export streamed row by row.
"""

import csv
import functools
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.paginator import Paginator
from django.db import connections, models, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from ajo import heartbeat
from ajo.addresses import InvalidAddress, normalize_address, to_checksum

# --- values --------------------------------------------------------------------------------


def format_units(amount: int | None, decimals: int | None, symbol: str = "") -> str:
    """`1250500000` with 6 decimals -> `1,250.5 USDC`; raw units when decimals are unknown."""
    if amount is None:
        return "-"
    if decimals is None:
        return f"{amount:,} {symbol or 'raw units'}".strip()
    # Integer arithmetic: Decimal's default context keeps 28 digits, and a total of uint256
    # amounts has up to 97.
    whole, fraction = divmod(amount, 10**decimals)
    digits = str(fraction).rjust(decimals, "0").rstrip("0") if decimals else ""
    text = f"{whole:,}" + (f".{digits}" if digits else "")
    return f"{text} {symbol}".strip()


def amount_html(amount: int | None, token=None):
    """Token units for reading, the exact integer underneath for checking."""
    if amount is None:
        return "-"
    decimals = token.decimals if token is not None else None
    symbol = token.symbol if token is not None else ""
    return format_html(
        '<span class="whitespace-nowrap">{}</span><br>'
        '<span class="font-mono text-xs text-base-400" title="exact raw value">{}</span>',
        format_units(amount, decimals, symbol),
        str(amount),
    )


def copy_button(value: str):
    """A copy-to-clipboard button run by the admin's own Alpine.js (no inline script: CSP)."""
    return format_html(
        '<button type="button" class="ajo-copy ml-1 align-middle text-base-400 '
        'hover:text-primary-600" title="Copy {}" data-copy="{}" x-data="{{ copied: false }}" '
        'x-on:click.prevent="navigator.clipboard'
        " && navigator.clipboard.writeText($el.dataset.copy);"
        ' copied = true; setTimeout(() => copied = false, 900)">'
        '<span class="material-symbols-outlined md-18" '
        "x-text=\"copied ? 'check' : 'content_copy'\">content_copy</span></button>",
        value,
        value,
    )


def address_html(address: str | None):
    """Checksummed, with a copy button, linked to the explorer when EXPLORER_URL is set."""
    if not address:
        return "-"
    checksummed = to_checksum(address)
    if settings.EXPLORER_URL:
        shown = format_html(
            '<a href="{}/address/{}" target="_blank" rel="noopener" class="font-mono">{}</a>',
            settings.EXPLORER_URL,
            checksummed,
            checksummed,
        )
    else:
        shown = format_html('<span class="font-mono">{}</span>', checksummed)
    return format_html(
        '<span class="whitespace-nowrap">{}{}</span>', shown, copy_button(checksummed)
    )


def tx_html(tx_hash: str | None):
    if not tx_hash:
        return "-"
    short = f"{tx_hash[:10]}…{tx_hash[-8:]}"
    if settings.EXPLORER_URL:
        shown = format_html(
            '<a href="{}/tx/{}" target="_blank" rel="noopener" class="font-mono" title="{}">{}</a>',
            settings.EXPLORER_URL,
            tx_hash,
            tx_hash,
            short,
        )
    else:
        shown = format_html('<span class="font-mono" title="{}">{}</span>', tx_hash, short)
    return format_html('<span class="whitespace-nowrap">{}{}</span>', shown, copy_button(tx_hash))


def admin_url(model, pk) -> str:
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[pk])


def changelist_url(model, **params) -> str:
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    if params:
        url += "?" + "&".join(f"{key}={value}" for key, value in params.items())
    return url


def admin_link(obj, label: str | None = None):
    """Link to the admin page of obj."""
    if obj is None:
        return "-"
    return format_html(
        '<a href="{}" class="text-primary-600 dark:text-primary-500">{}</a>',
        admin_url(type(obj), obj.pk),
        label or str(obj),
    )


# --- counting without COUNT(*) over a big table ---------------------------------------------


def estimate_count(queryset: QuerySet) -> int | None:
    """The planner's row estimate on PostgreSQL (pg_class.reltuples when unfiltered)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        if not queryset.query.where:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [queryset.model._meta.db_table],
            )
            row = cursor.fetchone()
            if row and row[0] >= 0:
                return int(row[0])
        sql, params = queryset.order_by().query.sql_with_params()
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """Exact count up to `exact_limit` rows (a LIMITed count), an estimate beyond it.

    Prisma Studio and the stock admin run COUNT(*) on every page, which costs seconds on a
    million rows. Pages in the far half are read in reverse order, so the last page costs what
    the first does; beyond `exact_limit` page positions follow the estimate.
    """

    template_name = "admin/ajo/pagination.html"
    exact_limit = 10_000

    count_text = ""

    @cached_property
    def count(self) -> int:
        bounded = self.object_list.order_by()[: self.exact_limit + 1].count()
        if bounded <= self.exact_limit:
            self.count_text = f"{bounded:,}"
            return bounded
        estimate = estimate_count(self.object_list)
        if estimate is None:
            self.count_text = f"more than {self.exact_limit:,}"
            return bounded
        estimate = max(estimate, bounded)
        self.count_text = f"about {estimate:,}"
        return estimate

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        queryset = self.object_list
        if number == 1 or not queryset.ordered:
            return self._get_page(queryset[bottom:top], number, self)
        if bottom >= self.count // 2:
            # Far half: count back from the end so the database skips fewer rows.
            rows = seek_slice(queryset.reverse(), self.count - top, self.count - bottom)
            rows.reverse()
        else:
            rows = seek_slice(queryset, bottom, top)
        return self._get_page(rows, number, self)


SEEK_AFTER = 2_000  # below this many skipped rows a plain OFFSET is as cheap


def _seek_columns(queryset: QuerySet) -> tuple[list[str], list[str], bool] | None:
    """(field names, quoted columns, descending) when the ordering is plain columns of one
    direction ending in a unique key, so a row-value comparison can replace OFFSET."""
    from ajo.fields import Uint256Field

    order = list(queryset.query.order_by)
    if not order or not all(isinstance(part, str) for part in order):
        return None
    directions = {part.startswith("-") for part in order}
    if len(directions) != 1:
        return None
    meta = queryset.model._meta
    names, columns = [], []
    for part in order:
        name = part.lstrip("-")
        field = meta.pk if name == "pk" else None
        if field is None:
            try:
                field = meta.get_field(name)
            except Exception:
                return None
        # Related fields order by the other model; padded uint256 text would not compare
        # with an int parameter on SQLite.
        if field.is_relation or isinstance(field, Uint256Field) or not field.concrete:
            return None
        names.append(field.attname)
        columns.append(
            connections[queryset.db].ops.quote_name(meta.db_table)
            + "."
            + connections[queryset.db].ops.quote_name(field.column)
        )
    unique = names[-1] == meta.pk.attname or names[:2] == ["block_number", "log_index"]
    if not unique:
        return None
    # .reverse() keeps order_by and flips standard_ordering.
    descending = directions.pop() == queryset.query.standard_ordering
    return names, columns, descending


def seek_slice(queryset: QuerySet, bottom: int, top: int) -> list:
    """queryset[bottom:top] without making the database fetch `bottom` whole rows.

    The first row's sort key is read alone (an index-only scan on the ordering's index), then
    the page starts at that key: `(a, b) <= (x, y)` is served by the same index.
    """
    seek = _seek_columns(queryset) if bottom >= SEEK_AFTER else None
    if seek is None:
        return list(queryset[bottom:top])
    names, columns, descending = seek
    boundary = list(queryset.values_list(*names)[bottom : bottom + 1])
    if not boundary:
        return []
    placeholders = ", ".join(["%s"] * len(columns))
    comparison = "<=" if descending else ">="
    where = f"({', '.join(columns)}) {comparison} ({placeholders})"
    # Columns come from the model's metadata, the values are parameters.
    page = queryset.extra(where=[where], params=list(boundary[0]))  # noqa: S610
    return list(page[: top - bottom])


# --- search ------------------------------------------------------------------------------------

_TX = re.compile(r"^0x[0-9a-fA-F]{64}$")
_LOOSE_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def search_kind(term: str) -> tuple[str, object]:
    """('address' | 'tx' | 'number' | 'text', value) for a search box term."""
    term = term.strip()
    if _TX.match(term):
        return "tx", term.lower()
    if _LOOSE_ADDRESS.match(term):
        try:
            return "address", normalize_address(term)
        except InvalidAddress:
            # A mistyped checksum cannot match a stored row; search the lowercase form anyway.
            return "address", term.lower()
    if term.isdigit() and len(term) < 19:
        return "number", int(term)
    return "text", term


class ExactSearchMixin:
    """One search box, but every term kind goes to an index: no LIKE scan over big tables.

    `search_map` says which lookups each kind of term tries, e.g.
    {"address": ["member__address"], "tx": ["tx_hash"], "number": ["group_id"]}.
    """

    search_map: dict[str, list[str]] = {}
    search_help_text = "Address (any case), tx hash, or group id"

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        kind, value = search_kind(search_term)
        lookups = self.search_map.get(kind, [])
        if kind == "text" and not lookups:
            lookups = self.search_map.get("text_fallback", [])
        if not lookups:
            return queryset.none(), False
        condition = Q()
        for lookup in lookups:
            condition |= Q(**{lookup: value})
        return queryset.filter(condition), False


# --- CSV export --------------------------------------------------------------------------------

# A cell a spreadsheet would read as a formula (OWASP's list). Group names and token symbols
# are chosen by whoever sends the transaction: `=HYPERLINK(...)` must arrive as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_CHUNK_ROWS = 2000  # rows per chunk handed to the server: about 400 kB, one socket write


def csv_text(value: str) -> str:
    """Text as a CSV cell that no spreadsheet runs: a leading formula character gets a `'`."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _csv_text_or_blank(value: str | None) -> str:
    return "" if value is None else csv_text(value)


def _csv_datetime(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


def _csv_converter(model, path: str):
    """What a column's values go through, from the field the path ends at: text is
    neutralised, times written in ISO 8601, and numbers and booleans written as the csv
    module writes them (None as an empty cell). Only text can be a formula: the numbers ajo
    stores (ids, blocks, rounds, uint256 amounts) are never negative, so they stay digits."""
    *relations, name = path.split("__")
    for relation in relations:
        model = model._meta.get_field(relation).related_model
    field = model._meta.get_field(name)
    if isinstance(field, (models.CharField, models.TextField)):
        return _csv_text_or_blank
    if isinstance(field, models.DateTimeField):
        return _csv_datetime
    return None


@dataclass(frozen=True)
class CsvColumn:
    path: str  # a field or a relation path (`group__token__symbol`), also the header
    address: bool = False  # written checksummed


def columns_from(spec: Iterable[str]) -> list[CsvColumn]:
    """'field' or 'a__b' (plain value), '@field' (an address, checksummed in the file)."""
    return [
        CsvColumn(item[1:], address=True) if item.startswith("@") else CsvColumn(item)
        for item in spec
    ]


def csv_rows(
    queryset: QuerySet, columns: list[CsvColumn], chunk_rows: int = CSV_CHUNK_ROWS
) -> Iterator[str]:
    """The header, then the rows in chunks of `chunk_rows` lines, from one query.

    A million rows must stream well inside the server's timeout and keep the worker alive:
    rows are read as tuples (no model instances; relations joined in the same query) with a
    server-side cursor on PostgreSQL, each address is checksummed once per export (a keccak
    hash; a user appears in many rows), and each chunk is one write and one heartbeat
    (ajo/heartbeat.py) instead of one per line.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column.path for column in columns])
    checksum = functools.lru_cache(maxsize=100_000)(checksum_or_blank)
    converters = [
        (index, checksum if column.address else converter)
        for index, column in enumerate(columns)
        if (converter := _csv_converter(queryset.model, column.path)) or column.address
    ]
    rows = queryset.values_list(*(column.path for column in columns))
    pending = 0
    # In a transaction, PostgreSQL's server-side cursor hands rows over as it reads them; in
    # autocommit Django declares it WITH HOLD, and the server first copies the whole result
    # (1.6 s for a million rows, without a heartbeat meanwhile). One snapshot, too: the file
    # is the table as of one moment even while the sync writes. A client that goes away
    # closes this generator, and the transaction ends with it.
    with transaction.atomic(using=queryset.db):
        for row in rows.iterator(chunk_size=chunk_rows):
            row = list(row)
            for index, convert in converters:
                row[index] = convert(row[index])
            writer.writerow(row)
            pending += 1
            if pending == chunk_rows:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                pending = 0
                heartbeat.beat()
    yield buffer.getvalue()


def checksum_or_blank(address: str | None) -> str:
    return to_checksum(address) or ""
