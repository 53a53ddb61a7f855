"""Database routing: API reads go to the replica when DATABASE_REPLICA_URL is set.

Only reads made while `replica_reads()` is active (the API's GET/HEAD requests, through
ReplicaReadsMiddleware) go to the replica. The sync worker, the admin and every write keep
reading the primary, so replication lag can never make sync re-read a stale checkpoint or an
admin see its own save missing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from django.conf import settings
from django.db import connections

_replica_reads: ContextVar[bool] = ContextVar("ajo_replica_reads", default=False)

REPLICA = "replica"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@contextlib.contextmanager
def replica_reads() -> Iterator[None]:
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if not _replica_reads.get() or REPLICA not in settings.DATABASES:
            return "default"
        # Inside a transaction on the primary (a read-then-write), stay on the primary.
        if connections["default"].in_atomic_block:
            return "default"
        return REPLICA

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        # The replica is a copy of the primary: rows from either may be related.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


class ReplicaReadsMiddleware:
    """Reads of API GET/HEAD requests go to the replica (when one is configured)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in SAFE_METHODS and request.path_info.startswith("/api/"):
            with replica_reads():
                return self.get_response(request)
        return self.get_response(request)
