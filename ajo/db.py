"""Small set-operation helpers shared by the services."""

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from django.db import connection, models

T = TypeVar("T")


def chunks(items: Sequence[T], size: int | None = None) -> Iterator[Sequence[T]]:
    """Split a parameter list so one IN (...) stays under the database's parameter limit."""
    size = size or (900 if connection.vendor == "sqlite" else 20_000)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def upsert_by_pk(
    model: type[models.Model], objs: Iterable[models.Model], fields: list[str]
) -> None:
    """Write back rows already loaded and changed in Python: one INSERT … ON CONFLICT DO UPDATE.

    Faster than bulk_update's CASE WHEN per row, and identical on PostgreSQL and SQLite.
    """
    objs = list(objs)
    if not objs:
        return
    model.objects.bulk_create(
        objs,
        update_conflicts=True,
        unique_fields=[model._meta.pk.name],
        update_fields=fields,
        batch_size=2000 if connection.vendor == "postgresql" else 200,
    )


def from_unix(timestamp: int | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, tz=UTC)
