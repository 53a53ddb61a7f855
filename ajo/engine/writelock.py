"""One sync writer per database: a PostgreSQL advisory lock, or a file lock beside SQLite.

The lock belongs to a connection (or open file) of its own, so it is released by the
operating system or the database server the moment the holder dies, even on SIGKILL: a
hot standby waiting for it takes over without anyone cleaning up.
"""

import contextlib
import fcntl
import os

import psycopg
from django.db import connection

# Arbitrary but fixed: every ajo process asks for the same advisory lock key.
ADVISORY_LOCK_KEY = 0x616A6F5F73796E63  # "ajo_sync"


def _postgres_conninfo() -> str:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params.pop("server_side_binding", None)
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v is not None})


class WriterLock:
    """try_acquire() is non-blocking; release() lets the next writer in."""

    def __init__(self):
        self._pg = None
        self._file = None

    def try_acquire(self) -> bool:
        if connection.vendor == "postgresql":
            if self._pg is None:
                self._pg = psycopg.connect(_postgres_conninfo(), autocommit=True)
            row = self._pg.execute(
                "SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY]
            ).fetchone()
            return bool(row and row[0])
        path = _sqlite_lock_path()
        if path is None:  # in-memory database: only this process can see it
            return True
        if self._file is None:
            self._file = open(path, "a+")  # noqa: SIM115 (held open for the lock's lifetime)
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._file.seek(0)
        self._file.truncate()
        self._file.write(str(os.getpid()))
        self._file.flush()
        return True

    def release(self) -> None:
        if self._pg is not None:
            # Closing the session releases the lock too, but only once the server's backend
            # has exited, after close() returned: a writer starting at once could still find
            # it taken. Unlocking first is synchronous (on a broken connection it fails, and
            # the server drops the lock with the session).
            with contextlib.suppress(psycopg.Error):
                self._pg.execute("SELECT pg_advisory_unlock_all()")
            self._pg.close()
            self._pg = None
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _sqlite_lock_path() -> str | None:
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or "mode=memory" in name:
        return None
    return f"{name}.sync-lock"
