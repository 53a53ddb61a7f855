"""Set operations for the write services: one statement (or one COPY) per batch, not per row.

Django's bulk_create/bulk_update build one giant parameterised statement, which psycopg then
rewrites on the client; at tens of thousands of rows that costs seconds. These helpers stream
rows with binary COPY on PostgreSQL (inserts) or send them as one array per column to a single
UPDATE … FROM unnest(…), and use executemany on SQLite, where the sqlite3 module loops in C.
Rows are plain tuples.

Every write takes `out`, where the statement goes: IMMEDIATE (the default) runs it now; the
sync's pipeline passes a sink that records it, rows included, to run later on its writer
thread (ajo.engine.pipeline.DeferredWrites). Reads always run at once.

Uint256 columns: PostgreSQL takes Python ints as numeric; SQLite gets the zero-padded text
form of the column's width, and `uint256_add` and the aggregate `uint256_sum` (ajo.db.sqlite)
add them exactly. What they return is a total (a sum of uint256 values,
ajo.fields.Uint256TotalField): the only columns SQL adds into are totals.
"""

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from django.db import connection, models

from ajo.fields import Uint256Field

T = TypeVar("T")


class WriteSink(Protocol):
    """Where a write goes: `write(fn, *args, **kwargs)` runs fn now or records it for later."""

    def write(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None: ...


class _Immediate:
    """The default sink: every write runs at once, on the caller's connection."""

    def write(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        fn(*args, **kwargs)

    def __repr__(self) -> str:
        return "IMMEDIATE"


IMMEDIATE: WriteSink = _Immediate()


def chunks(items: Sequence[T], size: int | None = None) -> Iterator[Sequence[T]]:
    """Split a parameter list so one IN (...) stays under the database's parameter limit."""
    size = size or (900 if connection.vendor == "sqlite" else 20_000)
    for start in range(0, len(items), size):
        yield items[start : start + size]


@functools.lru_cache(maxsize=65_536)
def from_unix(timestamp: int | None) -> datetime | None:
    """Block time as an aware UTC datetime (cached: a window has few distinct block times)."""
    return None if timestamp is None else datetime.fromtimestamp(timestamp, tz=UTC)


def bulk_insert_new(
    model: type[models.Model],
    names: list[str],
    rows: Sequence[Sequence[Any]],
    *,
    out: WriteSink = IMMEDIATE,
) -> list[int] | None:
    """bulk_insert for new rows whose ids the caller needs. On PostgreSQL the ids come from
    the table's identity sequence first and are returned in row order, so nothing has to be
    read back (deferred writes included). Elsewhere None: read them back after the insert.
    A rolled-back batch leaves a gap in the ids, nothing else."""
    if connection.vendor != "postgresql":
        bulk_insert(model, names, rows, out=out)
        return None
    if not rows:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    with_ids = [(i, *row) for i, row in zip(ids, rows, strict=True)]
    bulk_insert(model, [model._meta.pk.name, *names], with_ids, out=out)
    return ids


# --- value preparation ----------------------------------------------------------------------


def _converter(field: models.Field):
    """A fast per-column converter from Python values to what the driver takes."""
    if connection.vendor == "postgresql":
        return None  # psycopg adapts int (any size, into numeric), datetime, bool, str
    if isinstance(field, Uint256Field):  # totals too, each padded to its column's width
        return lambda v: None if v is None else field.sqlite_text(v)
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    return None


def _prepare(rows: Iterable[Sequence[Any]], fields: list[models.Field]) -> Iterator[tuple]:
    converters = [_converter(field) for field in fields]
    if not any(converters):
        yield from (tuple(row) for row in rows)
        return
    for row in rows:
        yield tuple(
            value if convert is None else convert(value)
            for value, convert in zip(row, converters, strict=True)
        )


def _fields(model: type[models.Model], names: list[str]) -> list[models.Field]:
    return [model._meta.get_field(name) for name in names]


def _column(field: models.Field) -> str:
    return connection.ops.quote_name(field.column)


def _defaults(model: type[models.Model], given: list[str]) -> tuple[list[str], tuple]:
    """Columns the caller did not give that have no database default: fill from the field."""
    names, values = [], []
    for field in model._meta.concrete_fields:
        if field.name in given or field.attname in given or field.primary_key:
            continue
        names.append(field.name)
        values.append(field.get_default())
    return names, tuple(values)


# --- the operations ---------------------------------------------------------------------------


def _array_param(values: Sequence[Any]) -> list | str:
    """One column for unnest(): integer columns (ids, counts, uint256 totals: the hot ones)
    as an array literal built in one join, the rest as a list psycopg adapts value by value."""
    if all(type(value) is int for value in values):
        return "{" + ",".join(map(str, values)) + "}"
    return list(values)


def bulk_insert(
    model: type[models.Model],
    names: list[str],
    rows: Sequence[Sequence[Any]],
    *,
    out: WriteSink = IMMEDIATE,
) -> int:
    """INSERT rows (tuples in `names` order); other columns get their field defaults."""
    if not rows:
        return 0
    out.write(_insert, model, names, list(rows))
    return len(rows)


def _insert(model: type[models.Model], names: list[str], rows: Sequence[Sequence[Any]]) -> int:
    extra_names, extra_values = _defaults(model, names)
    fields = _fields(model, names + extra_names)
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(_column(field) for field in fields)
    full_rows = (tuple(row) + extra_values for row in rows)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Binary COPY: psycopg packs each row in C, about four times faster than the text
            # format (no escaping, no numbers or times spelled out), and the server parses less.
            # Errors come out as Django's (IntegrityError, …), as from any other statement.
            copy_sql = f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"
            with connection.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
                # the column types by name, without modifiers: numeric(78,0) is numeric
                copy.set_types([field.db_type(connection).split("(")[0] for field in fields])
                write_row = copy.write_row
                for row in full_rows:
                    write_row(row)
        else:
            marks = ", ".join(["%s"] * len(fields))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608
                list(_prepare(full_rows, fields)),
            )
    return len(rows)


def delete_ids(model: type[models.Model], ids: Sequence[int], *, out: WriteSink = IMMEDIATE) -> int:
    """DELETE rows by primary key, with one statement per chunk. No cascades: for rows
    nothing else points at."""
    if not ids:
        return 0
    out.write(_delete, model, list(ids))
    return len(ids)


def _delete(model: type[models.Model], ids: Sequence[int]) -> int:
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        for part in chunks(ids):
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(f"DELETE FROM {table} WHERE {pk} IN ({marks})", list(part))  # noqa: S608
    return len(ids)


def bulk_update(
    model: type[models.Model],
    names: list[str],
    rows: Sequence[Sequence[Any]],
    *,
    add: bool = False,
    out: WriteSink = IMMEDIATE,
) -> int:
    """Set (or, with add=True, add to) `names` on rows given as (pk, value, value, …)."""
    if not rows:
        return 0
    out.write(_update, model, names, list(rows), add=add)
    return len(rows)


def _update(
    model: type[models.Model], names: list[str], rows: Sequence[Sequence[Any]], *, add: bool
) -> int:
    pk = model._meta.pk
    fields = _fields(model, names)
    table = connection.ops.quote_name(model._meta.db_table)

    def target(field, source):
        column = _column(field)
        if not add:
            return f"{column} = {source}"
        if connection.vendor == "sqlite" and isinstance(field, Uint256Field):
            return f"{column} = uint256_add({column}, {source})"
        return f"{column} = {table}.{column} + {source}"

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement, the rows as one array per column: no temporary table (its
            # catalog writes cost more than the update on small batches) and no per-row
            # parameters. psycopg sends the arrays in binary.
            columns = [pk, *fields]
            arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in columns)
            names = ", ".join(["pk", *(f"c{i}" for i in range(len(fields)))])
            sets = ", ".join(target(field, f"u.c{i}") for i, field in enumerate(fields))
            cursor.execute(
                f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS u({names}) "  # noqa: S608
                f"WHERE {table}.{_column(pk)} = u.pk",
                [_array_param(column) for column in zip(*rows, strict=True)],
            )
        else:
            sets = ", ".join(target(field, "%s") for field in fields)
            prepared = _prepare(((*row[1:], row[0]) for row in rows), [*fields, pk])
            cursor.executemany(
                f"UPDATE {table} SET {sets} WHERE {_column(pk)} = %s",  # noqa: S608
                list(prepared),
            )
    return len(rows)


def sql_uint256_sum(expression: str) -> str:
    """SQL for the exact sum of a uint256 column (NULL rows skipped) on either database."""
    if connection.vendor == "sqlite":
        return f"uint256_sum({expression})"
    return f"SUM({expression})"


def sql_uint256_add(column: str, expression: str) -> str:
    """SQL for a uint256 column plus a uint256 expression, exact on either database."""
    if connection.vendor == "sqlite":
        return f"uint256_add({column}, {expression})"
    return f"{column} + {expression}"


def save_fields(
    model: type[models.Model],
    objs: Iterable[models.Model],
    names: list[str],
    *,
    out: WriteSink = IMMEDIATE,
) -> None:
    """Write back `names` of rows loaded and changed in Python, in one set operation."""
    attnames = [model._meta.get_field(name).attname for name in names]
    rows = [(obj.pk, *(getattr(obj, attname) for attname in attnames)) for obj in objs]
    bulk_update(model, names, rows, out=out)
