"""Project-level database reads: the sync status that /api/sync/ shows (with the chain head and
the cache counters from ajo.chainreads), the sync failure it reports, and the index version
the API's answers are keyed by."""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import connections, router

from ajo.addresses import InvalidAddress, normalize_address
from ajo.chainreads import cache_stats, chain_head
from ajo.models import SyncState


def sync_failure(state: SyncState | None) -> dict | None:
    """The window the sync cannot apply, while it cannot: None when nothing fails."""
    if state is None or not state.failure_attempts:
        return None
    return {
        "message": state.failure,
        "block": state.failure_block,
        "event": state.failure_event or None,
        "since": state.failure_since,
        "attempts": state.failure_attempts,
        "retry_at": state.failure_retry_at,
    }


def sync_status() -> dict:
    """What /api/sync/ shows: which chain and contract, how far the index is behind the head."""
    state = SyncState.objects.filter(pk=1).first()
    head = chain_head()
    try:
        configured = normalize_address(settings.AJO_CONTRACT_ADDRESS)
    except InvalidAddress:
        configured = None
    last_block = state.last_block if state else None
    last_time = state.last_block_time if state else None
    lag_blocks = lag_seconds = None
    if head["number"] is not None and last_block is not None:
        lag_blocks = max(head["number"] - last_block, 0)
    if head["timestamp"] is not None and last_time is not None:
        lag_seconds = max(int(head["timestamp"] - last_time.timestamp()), 0)
    return {
        "chain_id": state.chain_id if state else None,
        "contract": state.contract_address if state else configured,
        "head_block": head["number"],
        "head_time": (
            datetime.fromtimestamp(head["timestamp"], tz=UTC) if head["timestamp"] else None
        ),
        "head_error": head["error"],
        "indexed_block": last_block,
        "indexed_block_time": last_time,
        "lag_blocks": lag_blocks,
        "lag_seconds": lag_seconds,
        "total_events": state.total_events if state else 0,
        "last_run_started_at": state.last_run_started_at if state else None,
        "last_run_finished_at": state.last_run_finished_at if state else None,
        "last_run_events": state.last_run_events if state else None,
        "last_error": (state.last_error or None) if state else None,
        "failure": sync_failure(state),
        "reorg_count": state.reorg_count if state else 0,
        "last_reorg_at": state.last_reorg_at if state else None,
        "cache": cache_stats(),
    }


@dataclass(frozen=True, slots=True)
class IndexVersion:
    """What an API answer is exact as of: `block`, the indexed block (the start block - 1
    before the first window), and `generation`, which every write of the index moves in its
    own transaction (SyncState.generation). None: no sync state yet, nothing to key by."""

    generation: int | None
    block: int


# The table name is the model's, not input.
_VERSION_SQL = (
    f"SELECT generation, last_block, start_block FROM {SyncState._meta.db_table} WHERE id = 1"  # noqa: S608
)


def index_version() -> IndexVersion:
    """One primary-key read of the sync state, on the database the API's reads go to (the
    replica when there is one, so the version and the rows come from the same copy). Raw
    SQL: it runs on every API request, cache hits included."""
    alias = router.db_for_read(SyncState)
    with connections[alias].cursor() as cursor:
        cursor.execute(_VERSION_SQL)
        row = cursor.fetchone()
    if row is None:
        return IndexVersion(generation=None, block=settings.AJO_START_BLOCK - 1)
    generation, last_block, start_block = row
    return IndexVersion(
        generation=generation, block=start_block - 1 if last_block is None else last_block
    )
