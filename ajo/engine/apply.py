"""The transaction bracket: one window's rows, block hashes and checkpoint in one transaction.

`WindowWriter` is a mixin of `ajo.engine.loop.Syncer`: open a window (lock and check the
checkpoint), run the handlers, close it (settle rows ingested ahead, roll up when due, block
hashes, checkpoint); and, after a failure, find the block and event kind that fail.
"""

import logging

from django.db import connection, transaction

from ajo.db.bulk import from_unix
from ajo.engine import registry
from ajo.engine.checkpoint import revert_rows_above, roll_up_through
from ajo.engine.errors import SyncError, WindowFailed
from ajo.engine.windows import Window
from ajo.models import BlockRecord, SyncState

logger = logging.getLogger("ajo.sync")

# During a long catch-up, roll totals up at least this often: they trail the event rows by
# at most this many events, and one roll-up statement stays a bounded amount of work.
ROLL_UP_EVENTS = 500_000


class _RolledBack(Exception):
    """Leaves a trial transaction (WindowWriter.find_failure), rolling it back."""


class WindowWriter:
    """Writes windows to the database (mixed into Syncer, whose __init__ sets the state)."""

    def _open_window(self, window: Window) -> SyncState | None:
        """First step of a window's transaction: lock the checkpoint and check the window
        continues it. None when the chain reorganised under the checkpoint."""
        if connection.vendor == "postgresql":
            # Safe for an index: a server crash can lose the last commits, never split
            # one, and the checkpoint is in the same transaction; sync redoes them.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        state = SyncState.objects.select_for_update().get(pk=1)
        if window.parent_hash is not None and state.last_block is not None:
            if state.last_block != window.first - 1:
                raise SyncError(
                    f"checkpoint moved to {state.last_block} while this run expected "
                    f"{window.first - 1}: is another writer running?"
                )
            if state.last_block_hash and window.parent_hash != state.last_block_hash:
                return None
        return state

    def _roll_up_due(self, window: Window, target: int) -> bool:
        """Roll totals up in this window's transaction? At the end of the catch-up (so at
        the tip, always) and every ROLL_UP_EVENTS events."""
        self._unrolled += window.count
        if window.last >= target or self._unrolled >= ROLL_UP_EVENTS:
            self._unrolled = 0
            return True
        return False

    def _close_window(self, window: Window, state: SyncState, *, roll_up: bool) -> bool:
        """Last step of a window's transaction: rows stored ahead settled, roll-up if due,
        block hashes, checkpoint. True when settling changed rows the run may have cached."""
        settled = registry.checkpoint_reached(window.last)
        if roll_up:
            roll_up_through(state, window.last)
        records = dict(window.blocks)
        records[window.last] = window.last_hash
        BlockRecord.objects.bulk_create(
            [
                BlockRecord(number=n, hash=h, timestamp=from_unix(window.block_times[n]))
                for n, h in records.items()
            ],
            update_conflicts=True,
            unique_fields=["number"],
            update_fields=["hash", "timestamp"],
            batch_size=1000,
        )
        state.last_block = window.last
        state.last_block_hash = window.last_hash
        state.last_block_time = from_unix(window.last_time)
        state.total_events += window.count
        if state.ahead_block is not None and state.ahead_block <= window.last:
            state.ahead_block = None
        if state.failure_attempts:
            state.clear_failure()  # a window that failed before has landed
        state.save()
        return settled

    def write_window(self, window: Window, *, roll_up: bool) -> dict[str, int] | None:
        """Apply one window atomically. Returns {event name: rows applied}, or None on a
        reorg. Raises WindowFailed, with the block and event kind that fail, when a handler
        or the database refuses it (nothing of it is written)."""
        try:
            with transaction.atomic():
                state = self._open_window(window)
                if state is None:
                    return None
                if state.ahead_block is not None and state.ahead_block >= window.first:
                    # rows ingested through the API ahead of the sync: replaced by this window's
                    revert_rows_above(state, window.first - 1, run=self.run)
                applied = registry.apply_events(window.events, registry.WindowContext(self.run))
                settled = self._close_window(window, state, roll_up=roll_up)
        except SyncError:
            raise
        except Exception as exc:
            self.run.reset()  # the run's copies may hold what never landed
            logger.debug("window %d-%d failed", *window.span, exc_info=exc)
            self._serial_until = max(self._serial_until, window.first)  # retried on its own
            found = self.find_failure(window, roll_up=roll_up)
            if found is None:
                raise WindowFailed(first=window.first, last=window.last, error=exc) from exc
            block, event, error = found
            raise WindowFailed(
                first=window.first, last=window.last, block=block, event=event, error=error
            ) from exc
        if settled:
            self.run.reset()
        return applied

    def find_failure(self, window: Window, *, roll_up: bool) -> tuple[int, str, Exception] | None:
        """Where a window fails: applied again one block and one event kind at a time (each
        kind in the handlers' order, then the roll-up when the window had one), in a
        transaction that is always rolled back. Returns the first (block, event kind or
        "roll-up", error), or None when every part went through (the failure was not in one
        part, or did not happen again). Runs only after a failure: it costs a few queries per
        block and kind."""
        by_block: dict[int, dict[str, list]] = {}
        for name, events in window.events.items():
            for event in events:
                by_block.setdefault(event.block_number, {}).setdefault(name, []).append(event)
        found: tuple[int, str, Exception] | None = None
        try:
            with transaction.atomic():
                state = self._open_window(window)
                if state is None:
                    raise _RolledBack
                if state.ahead_block is not None and state.ahead_block >= window.first:
                    revert_rows_above(state, window.first - 1, run=self.run)
                for number in sorted(by_block):
                    for name in registry.event_names():
                        if by_block[number].get(name):
                            try:
                                registry.apply_events(
                                    {name: by_block[number][name]},
                                    registry.WindowContext(self.run),
                                )
                            except Exception as exc:
                                found = (number, name, exc)
                                raise _RolledBack from exc
                    if roll_up:
                        try:
                            roll_up_through(state, number)
                        except Exception as exc:
                            found = (number, "roll-up", exc)
                            raise _RolledBack from exc
                raise _RolledBack
        except _RolledBack:
            pass
        except Exception as exc:  # the trial itself could not run (the database went away, …)
            logger.debug("could not apply window %d-%d block by block", *window.span, exc_info=exc)
        finally:
            self.run.reset()
        return found
