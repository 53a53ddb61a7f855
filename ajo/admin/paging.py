"""Paging a big table without counting it: the one row count estimate (lists and the
dashboard), a paginator that counts at most `exact_limit` rows, and seek paging for deep pages."""

import json

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

from ajo.fields import Uint256Field


def estimate_count(queryset: QuerySet, *, count_without_statistics: bool = False) -> int | None:
    """How many rows `queryset` holds, without a COUNT(*) over a big table.

    On PostgreSQL: pg_class.reltuples for a whole table, the planner's estimate (EXPLAIN) for a
    filtered one. Where there are no statistics (SQLite; a table PostgreSQL has not analysed
    yet) the answer is None, or with `count_without_statistics` an exact COUNT: the dashboard's
    whole-table totals take that, since the planner's guess for a table it never analysed is
    sized from its pages and can be off by thousands on a small one; the paginator has counted
    more than its `exact_limit` rows by then, and takes the guess.
    """
    connection = connections[queryset.db]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            if not queryset.query.where:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
                if row and row[0] >= 0:
                    return int(row[0])
                if count_without_statistics:
                    return queryset.count()
            sql, params = queryset.order_by().query.sql_with_params()
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            return int(plan[0]["Plan"]["Plan Rows"])
    return queryset.count() if count_without_statistics else None


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
