"""The sync loop: brings the database to the chain's state at head minus confirmations.

    checkpoint ──► getLogs window [a, b] (prefetched in a thread) ──► decode ──► handlers
                                                                      │
             one transaction: rows + block hashes + checkpoint ◄──────┘
             (PostgreSQL: in a writer thread, while the handlers compute the next window)

Exactness rests on four rules:
- a window's rows and the checkpoint move in one database transaction, so a crash at any
  moment leaves either the whole window or none of it;
- the handlers are idempotent, so a window applied twice changes nothing;
- every window carries the hash its parent block had when the window was fetched; if that
  no longer matches the stored checkpoint hash, the chain reorganised: sync walks back
  through stored block hashes to the common ancestor, reverts everything above it and
  re-indexes;
- only one process writes (ajo.engine.writelock).

Totals that many windows move (each user's and membership's) are not written per window:
the apps roll them up from the stored rows (ajo.engine.registry.on_roll_up) in the
transaction of the window that ends a catch-up, and every ROLL_UP_EVENTS events on the way.
SyncState.rolled_up_block says how far they go; what a crash or a stop leaves behind is
rolled up when the next catch-up ends, and everything is rolled up before a revert, whose
rebuild reads every remaining row. At the end of every run, and at the chain's tip after
every window, the totals are exact.

`Syncer` is one object composed of mixins, one per job: WindowFetcher (ajo.engine.windows),
WindowWriter (ajo.engine.apply), PipelinedWriter (ajo.engine.pipeline) and ReorgHandler
(ajo.engine.reorg); checkpoint surgery is in ajo.engine.checkpoint. One object rather than
helpers passed around: the jobs share the run's state (window size, serial windows, the
writer thread), and the hot path stays plain method calls on self, as fast as before.
"""

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from ajo.addresses import to_checksum
from ajo.engine import metrics, registry
from ajo.engine.apply import WindowWriter
from ajo.engine.checkpoint import (
    checkpoint_block,
    connect,
    ensure_state,
    reindex,
    rewind_to,
    roll_up_after_error,
    roll_up_pending,
)
from ajo.engine.errors import DecodeError, SyncError, WindowFailed, describe_error
from ajo.engine.pipeline import PipelinedWriter
from ajo.engine.reorg import ReorgHandler
from ajo.engine.rpc import RpcClient, RpcError, RpcUnavailable
from ajo.engine.windows import PROBE_BLOCKS, Window, WindowFetcher
from ajo.engine.writelock import WriterLock
from ajo.models import SyncState

logger = logging.getLogger("ajo.sync")


def retry_delay(attempt: int, *, base: float, cap: float) -> float:
    """Seconds before retry `attempt` (1, 2, …) of a failed window: base, doubling, at most cap."""
    return min(cap, base * 2 ** min(attempt - 1, 64))


def record_failure(failure: WindowFailed, *, retry_in: float | None) -> None:
    """Keep a failed window where operators look: the sync state (admin, /api/sync/) and the
    worker's metrics. Attempts count up while the same block keeps failing (across runs too);
    the window's commit clears it all (ajo.engine.apply's _close_window)."""
    now = timezone.now()
    block = failure.block if failure.block is not None else failure.first
    try:
        with transaction.atomic():
            state = SyncState.objects.select_for_update().get(pk=1)
            again = state.failure_attempts > 0 and (state.failure_block, state.failure_event) == (
                block,
                failure.event,
            )
            state.failure = state.last_error = str(failure)
            state.failure_block, state.failure_event = block, failure.event[:64]
            state.failure_since = state.failure_since if again else now
            state.failure_attempts = state.failure_attempts + 1 if again else 1
            state.failure_retry_at = None if retry_in is None else now + timedelta(seconds=retry_in)
            state.save(update_fields=[*SyncState.FAILURE_FIELDS, "last_error", "updated_at"])
    except Exception as exc:  # the database that refused the window may refuse this too
        logger.warning("could not record the failure in the sync state: %s", describe_error(exc))
    metrics.WINDOW_FAILURES.inc()
    metrics.WINDOW_FAILING.set(1)
    metrics.FAILED_BLOCK.set(block)


@dataclass
class SyncSummary:
    from_block: int | None = None
    to_block: int | None = None
    events: int = 0
    seconds: float = 0.0
    windows: int = 0
    reorgs: int = 0
    applied: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "from_block": self.from_block,
            "to_block": self.to_block,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "windows": self.windows,
            "reorgs": self.reorgs,
        }


ProgressCallback = Callable[[int, int, int, int], None]  # (first, current, target, events)


class Syncer(WindowFetcher, WindowWriter, PipelinedWriter, ReorgHandler):
    """One sync run's state and jobs: fetching (WindowFetcher), applying (WindowWriter), the
    pipelined catch-up (PipelinedWriter), reorgs (ReorgHandler) and, here, the catch-up
    loop and what follows a window's commit."""

    # PostgreSQL: compute each window while the previous one commits (a writer thread)
    pipelined = True

    def __init__(
        self,
        *,
        client: RpcClient,
        chain_id: int,
        contract: str,
        batch_blocks: int,
        confirmations: int,
        progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
        on_window: Callable[["Syncer"], None] | None = None,
    ):
        self.client = client
        self.chain_id = chain_id
        self.contract = contract
        # Start with a short probe rather than the whole configured window: on a dense chain
        # one 2,000-block getLogs can carry 100,000 logs, and nothing could be written while
        # it downloads. Sparse windows double at once until they reach TARGET_LOGS logs.
        self.window_size = max(1, min(batch_blocks, PROBE_BLOCKS))
        self.max_window = max(batch_blocks * 16, 1)
        self._probing = True
        self.confirmations = confirmations
        self.progress = progress
        self.stop = stop or threading.Event()
        self.on_window = on_window
        self.summary = SyncSummary()
        self._successes = 0
        self._head = 0
        self._rpc_seen = (client.retries, client.errors)
        self._narrow_batch = 100  # getLogs by blockHash per batch (see _narrow_logs)
        self._header_by_number: bool | None = None  # eth_getHeaderByNumber? (headers)
        self._serial_until = -1  # windows starting at or below this block go one by one
        # What the apps keep between this run's windows (ids and rows seen); reset wherever
        # the database may no longer match it (reverts, failed or dropped windows).
        self.run = registry.Run()
        self._unrolled = 0  # events committed since the last roll-up
        self._writer: ThreadPoolExecutor | None = None
        self.failed_attempts = 0  # failed attempts at the next window, 0 once one commits

    def report(self, *, indexed: int | None, applied: dict[str, int] | None = None) -> None:
        """Move the worker's Prometheus metrics (served with --metrics-port)."""
        if indexed is not None:
            metrics.record_blocks(head=max(self._head, indexed), indexed=indexed)
        for name, count in (applied or {}).items():
            if count:
                metrics.EVENTS.labels(event=name).inc(count)
        metrics.GETLOGS_WINDOW.set(self.window_size)
        retries, errors = self.client.retries, self.client.errors
        metrics.RPC_RETRIES.inc(max(retries - self._rpc_seen[0], 0))
        metrics.RPC_ERRORS.inc(max(errors - self._rpc_seen[1], 0))
        self._rpc_seen = (retries, errors)

    def catch_up(self, to_block: int | None) -> None:
        """Index from the checkpoint to head - confirmations (or to_block), once."""
        head = self.head()
        target = head - self.confirmations
        if to_block is not None:
            target = min(target, to_block)
        state = SyncState.objects.get(pk=1)
        SyncState.objects.filter(pk=1).update(head_block=head, head_seen_at=timezone.now())
        self.report(indexed=state.last_block)
        if not self.checkpoint_is_canonical(state):
            self.handle_reorg()
            state = SyncState.objects.get(pk=1)
        first = state.start_block if state.last_block is None else state.last_block + 1
        if self.summary.from_block is None:
            self.summary.from_block = first
        if first > target:
            self.summary.to_block = state.last_block
            return
        # The writer thread has a connection of its own: it cannot see the rows of a
        # transaction the caller holds open around the sync (the tests do), so not then.
        if self.pipelined and connection.vendor == "postgresql" and not connection.in_atomic_block:
            return self._catch_up_pipelined(first, target, to_block)
        for window in self.prefetch(first, target):
            applied = self.write_window(window, roll_up=self._roll_up_due(window, target))
            if applied is None:
                self.handle_reorg()
                return self.catch_up(to_block)
            self._committed(window, applied, first, target)
            if self.stop.is_set():
                return None
        return None

    def _committed(self, window: Window, applied: dict[str, int], first: int, target: int) -> None:
        """After a window's commit: summary, metrics, progress and the after-window hooks."""
        self.failed_attempts = 0
        metrics.WINDOW_FAILING.set(0)  # (a failure recorded by an earlier run too)
        for name, count in applied.items():
            self.summary.applied[name] = self.summary.applied.get(name, 0) + count
        self.summary.events += window.count
        self.summary.windows += 1
        self.summary.to_block = window.last
        self.report(indexed=window.last, applied=applied)
        if self.progress:
            self.progress(first, window.last, target, self.summary.events)
        registry.after_window(self.client, self.contract)
        if self.on_window:
            self.on_window(self)


def run(
    *,
    from_block: int | None = None,
    to_block: int | None = None,
    follow: bool = False,
    poll_interval: float = 2.0,
    batch_blocks: int | None = None,
    confirmations: int | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    client: RpcClient | None = None,
    on_standby: Callable[[], None] | None = None,
    on_window: Callable[[Syncer], None] | None = None,
    reindex_first: bool = False,
    retry_base: float | None = None,
    retry_max: float | None = None,
) -> SyncSummary:
    """Index the contract's events. Raises SyncError with a one-line reason on failure
    (ContractNotConfigured, also one line, when AJO_CONTRACT_ADDRESS is missing or invalid).

    A window that cannot be applied (WindowFailed: a handler or the database refuses it) is
    recorded in the sync state and the metrics either way, nothing of it written. Without
    `follow` the run stops on it at once: exit non-zero, the operator sees why. With `follow`
    the worker stays up and tries it again after `retry_base` seconds, doubling up to
    `retry_max` (settings SYNC_RETRY_*): a failure that goes away (a database restart, a fix
    deployed to the database) costs no restart, and one that stays neither crash-loops the
    worker under its supervisor nor hammers the node. The failure is cleared when the window
    commits."""
    stop = stop or threading.Event()
    started = time.monotonic()
    client, chain_id, contract = connect(client)
    lock = WriterLock()
    syncer = None
    metrics.IS_WRITER.set(0)
    try:
        while not lock.try_acquire():
            if not follow:
                raise SyncError(
                    "another sync_chain is already writing to this database; "
                    "this one would only duplicate its work"
                )
            if on_standby:
                on_standby()
            if stop.wait(poll_interval):
                return SyncSummary(seconds=time.monotonic() - started)
        metrics.IS_WRITER.set(1)
        logger.info("holding the writer lock: indexing %s", to_checksum(contract))
        syncer = Syncer(
            client=client,
            chain_id=chain_id,
            contract=contract,
            batch_blocks=batch_blocks or settings.SYNC_BATCH_BLOCKS,
            confirmations=settings.SYNC_CONFIRMATIONS if confirmations is None else confirmations,
            progress=progress,
            stop=stop,
            on_window=on_window,
        )
        state = ensure_state(
            chain_id=chain_id,
            contract=contract,
            start_block=settings.AJO_START_BLOCK if from_block is None else from_block,
        )
        if reindex_first:
            reindex(run=syncer.run)
        if from_block is not None:
            rewind_to(state=state, from_block=from_block, run=syncer.run)
        SyncState.objects.filter(pk=1).update(last_run_started_at=timezone.now(), last_error="")
        retry_base = settings.SYNC_RETRY_BASE_SECONDS if retry_base is None else retry_base
        retry_max = settings.SYNC_RETRY_MAX_SECONDS if retry_max is None else retry_max
        try:
            while True:
                try:
                    syncer.catch_up(to_block)
                    roll_up_pending()  # after a stop, or what an earlier run left behind
                except WindowFailed as failure:
                    syncer.failed_attempts += 1
                    pause = (
                        retry_delay(syncer.failed_attempts, base=retry_base, cap=retry_max)
                        if follow
                        else None
                    )
                    record_failure(failure, retry_in=pause)
                    reason = f"{failure} (checkpoint kept at block {checkpoint_block()})"
                    if pause is None:
                        raise SyncError(reason) from None
                    logger.error(
                        "%s; attempt %d, next in %g s", reason, syncer.failed_attempts, pause
                    )
                else:
                    if not follow or stop.is_set():
                        break
                    pause = poll_interval
                if stop.wait(pause):
                    break
                close_old_connections()
                syncer.refresh_writer_connection()
        except DecodeError as exc:
            roll_up_after_error()
            raise SyncError(f"{exc} (checkpoint kept at block {checkpoint_block()})") from None
        except (RpcUnavailable, RpcError) as exc:
            roll_up_after_error()
            metrics.RPC_ERRORS.inc()
            SyncState.objects.filter(pk=1).update(last_error=str(exc)[:1000])
            raise SyncError(f"{exc} (checkpoint kept at block {checkpoint_block()})") from None
        summary = syncer.summary
        summary.seconds = time.monotonic() - started
        SyncState.objects.filter(pk=1).update(
            last_run_finished_at=timezone.now(), last_run_events=summary.events
        )
        return summary
    finally:
        if syncer is not None:
            syncer.close()
            syncer.run.reset()  # what the run kept goes with it
        lock.release()
        metrics.IS_WRITER.set(0)
