"""Time limits for the admin's reads that a person shapes (filter conditions no index serves,
the SQL console): PostgreSQL's `SET LOCAL statement_timeout` in the read's own transaction,
SQLite's progress handler, which interrupts a statement past its deadline."""

import contextlib
import time
from collections.abc import Iterator

from django.db import OperationalError, connections, transaction

# PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout (query_canceled).
_QUERY_CANCELED = "57014"
# SQLite calls the progress handler every this many virtual machine instructions: about a
# tenth of a millisecond of work, so a deadline is kept to well under a millisecond.
_SQLITE_STEPS = 10_000


class QueryTimeout(Exception):
    """A statement ran past its limit and was stopped; nothing it did stays."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(f"stopped after {seconds:g} s (the time limit)")


def _is_cancel(exc: BaseException, vendor: str) -> bool:
    if vendor == "postgresql":
        cause = exc.__cause__ or exc
        return getattr(cause, "sqlstate", None) == _QUERY_CANCELED
    return "interrupted" in str(exc)


def set_postgres_timeout(cursor, seconds: float) -> None:
    """SET LOCAL takes no bind parameters; the value is an int the code computes."""
    cursor.execute(f"SET LOCAL statement_timeout = {max(int(seconds * 1000), 1)}")


@contextlib.contextmanager
def sqlite_deadline(raw_connection, seconds: float) -> Iterator[None]:
    deadline = time.monotonic() + seconds
    raw_connection.set_progress_handler(
        lambda: 1 if time.monotonic() > deadline else 0, _SQLITE_STEPS
    )
    try:
        yield
    finally:
        raw_connection.set_progress_handler(None, 0)


@contextlib.contextmanager
def statement_timeout(*, using: str, seconds: float) -> Iterator[None]:
    """Every statement run inside takes at most `seconds`, else QueryTimeout is raised (on
    PostgreSQL the transaction opened here is rolled back with it)."""
    connection = connections[using]
    vendor = connection.vendor
    try:
        if vendor == "postgresql":
            with transaction.atomic(using=using):
                with connection.cursor() as cursor:
                    set_postgres_timeout(cursor, seconds)
                yield
        else:
            connection.ensure_connection()
            with sqlite_deadline(connection.connection, seconds):
                yield
    except OperationalError as exc:
        if _is_cancel(exc, vendor):
            raise QueryTimeout(seconds) from exc
        raise
