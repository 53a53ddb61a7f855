"""CSV export of an admin list: every filtered row streamed in chunks from one query, addresses
checksummed, and no cell a spreadsheet would run as a formula."""

import csv
import functools
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import models, transaction
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from ajo import heartbeat
from ajo.addresses import to_checksum

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


def csv_response(queryset: QuerySet, spec: Iterable[str]) -> StreamingHttpResponse:
    """`queryset` as a streamed CSV download named after its table and the time of export."""
    meta = queryset.model._meta
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        csv_rows(queryset, columns_from(spec)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{meta.app_label}-{meta.model_name}-{stamp}.csv"'
    )
    return response
