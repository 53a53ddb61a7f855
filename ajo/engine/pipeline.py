"""The pipelined catch-up (PostgreSQL): window n+1's writes are planned while window n commits.

`PipelinedWriter` is a mixin of `ajo.engine.loop.Syncer`: plan_window runs the handlers with
their writes recorded (DeferredWrites), commit_planned runs them on the writer
thread's own connection in the window's transaction (ajo.engine.apply's bracket), and
_catch_up_pipelined keeps one window in flight, falling back to one window at a time when
a plan cannot stand. It also owns the writer thread.
"""

import functools
import logging
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.db import IntegrityError, close_old_connections, connection, transaction

from ajo.engine import registry
from ajo.engine.errors import SyncError, describe_error
from ajo.engine.windows import Window
from ajo.models import SyncState

logger = logging.getLogger("ajo.sync")


class DeferredWrites(list):
    """A WriteSink (ajo.db.bulk) that records each write, rows included, to run later in
    order with `run()`: the planner computes a window's writes while the writer thread still
    commits the previous window on another connection. Reads run at once, so code writing
    here must not read back what it wrote: ids come from `bulk_insert_new`.

    `barrier`: a handler asked for it (WindowContext.request_barrier) because its writes
    change rows the next window reads from the database: commit these before computing more."""

    barrier = False

    def write(self, fn, /, *args, **kwargs) -> None:
        self.append(functools.partial(fn, *args, **kwargs))

    def run(self) -> None:
        for write in self:
            write()


class PlannerWrote(SyncError):
    """A handler wrote to the database while its window was being planned: its write went
    around the window's sink (`out`), so the plan cannot be exact."""


_WRITES = ("INSERT", "UPDATE", "DELETE", "COPY", "TRUNCATE")


def _refuse_writes(execute, sql, params, many, context):
    """The planner's guard (connection.execute_wrapper): reads run, writes are an error.
    (Binary COPY goes around Django's cursor and so around this guard; ajo.db.bulk's insert
    is the only COPY, and it goes through the sink.)"""
    if sql.lstrip()[:8].upper().startswith(_WRITES):
        raise PlannerWrote(f"a write while planning a window, not through its sink: {sql[:80]}")
    return execute(sql, params, many, context)


class PipelinedWriter:
    """Plans and commits windows on two connections (mixed into Syncer)."""

    def plan_window(self, window: Window) -> tuple[dict[str, int], DeferredWrites]:
        """Run the handlers with their writes recorded, not sent (DeferredWrites): pure
        computation on this thread's connection while the writer commits the previous window
        on its own."""
        writes = DeferredWrites()
        context = registry.WindowContext(self.run, out=writes)
        with connection.execute_wrapper(_refuse_writes):
            applied = registry.apply_events(window.events, context)
        writes.barrier = context.barrier
        return applied, writes

    def commit_planned(self, window: Window, writes: DeferredWrites, *, roll_up: bool) -> str:
        """The writer thread: run a planned window's writes in its transaction. Returns
        "done", "reorg" (the chain moved under the checkpoint), "redo" (the plan cannot
        stand: rows were ingested ahead meanwhile, or another writer stored a row first) or
        "replan" (committed, but settling rows read ahead of the sync changed rows the next
        window's plan may have read)."""
        try:
            with transaction.atomic():
                state = self._open_window(window)
                if state is None:
                    return "reorg"
                if state.ahead_block is not None and state.ahead_block >= window.first:
                    return "redo"
                writes.run()
                settled = self._close_window(window, state, roll_up=roll_up)
        except IntegrityError as exc:
            logger.info("window %d-%d conflicted (%s): computing it again", *window.span, exc)
            return "redo"
        except SyncError:
            raise
        except Exception as exc:
            # Written again without the pipeline, where a failure that stays is found and
            # reported (write_window).
            logger.info(
                "window %d-%d failed (%s): writing it on its own",
                *window.span,
                describe_error(exc),
            )
            return "redo"
        return "replan" if settled else "done"

    def _catch_up_pipelined(self, first: int, target: int, to_block: int | None) -> None:
        """The catch-up loop with a writer thread (PostgreSQL): window n+1's writes are
        computed while window n commits on the writer's own connection.

        Exactness holds because nothing computed for n+1 reads what n writes: the windows
        cover disjoint block ranges, and every row n creates or changes is in the run's
        caches (ids allocated up front, groups shared, see groups.runstate). Whatever could
        break that makes the writer answer "reorg" or "redo" (rows ingested ahead of the sync
        in that window included); the planned window is dropped, the caches cleared, and the
        loop starts again from the committed checkpoint, the window that conflicted written
        without the pipeline.
        """
        in_flight: tuple[Window, dict, Future] | None = None
        if self._writer is None:  # kept for the whole run (--follow calls this every poll)
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ajo-sync-write")
        writer = self._writer

        def settle() -> str:
            """Wait for the window in flight; account for it once committed."""
            nonlocal in_flight
            window, applied, future = in_flight
            in_flight = None
            outcome = future.result()
            if outcome in ("done", "replan"):
                self._committed(window, applied, first, target)
            return outcome

        outcome = "done"
        try:
            for window in self.prefetch(first, target):
                if window.first <= self._serial_until:
                    if in_flight is not None and (outcome := settle()) != "done":
                        break
                    # a revert in it clears the caches
                    applied = self.write_window(window, roll_up=self._roll_up_due(window, target))
                    if applied is None:
                        outcome = "reorg"
                        break
                    self._committed(window, applied, first, target)
                else:
                    try:
                        applied, writes = self.plan_window(window)
                    except SyncError:
                        raise
                    except Exception as exc:
                        # computed again on its own, where a failure that stays is found
                        # and reported (write_window)
                        logger.info(
                            "window %d-%d failed (%s): writing it on its own",
                            *window.span,
                            describe_error(exc),
                        )
                        if in_flight is None or (outcome := settle()) == "done":
                            outcome = "redo"
                        break
                    if in_flight is not None and (outcome := settle()) != "done":
                        break
                    if self.stop.is_set():
                        self.run.reset()  # the planned window is dropped
                        return None
                    roll_up = self._roll_up_due(window, target)
                    in_flight = (
                        window,
                        applied,
                        writer.submit(self.commit_planned, window, writes, roll_up=roll_up),
                    )
                    if not writes.barrier:
                        continue  # the next window is computed while this one commits
                    if (outcome := settle()) != "done":
                        break
                if self.stop.is_set():
                    return None
            if in_flight is not None:
                outcome = settle()
        finally:
            if in_flight is not None:  # an error here: let the writer finish, then re-raise
                wait([in_flight[2]])
        if outcome == "done":
            return None
        self.run.reset()
        if outcome == "replan":
            # go on from the checkpoint just committed, computing from the database
            logger.info("rows read ahead of the sync were settled: computing on from there")
        elif outcome == "reorg":
            self.handle_reorg()
        else:  # "redo": the window after the checkpoint goes without the pipeline
            state = SyncState.objects.get(pk=1)
            checkpoint = state.start_block - 1 if state.last_block is None else state.last_block
            self._serial_until = max(self._serial_until, checkpoint + 1)
        return self.catch_up(to_block)

    def refresh_writer_connection(self) -> None:
        """Between polls of --follow: the writer's connection gets the same health and age
        checks as the main one (close_old_connections, in its own thread)."""
        if self._writer is not None:
            self._writer.submit(close_old_connections).result()

    def close(self) -> None:
        """End of the run: stop the writer thread and close its database connection."""
        if self._writer is not None:
            # resolved in the writer thread: its own connection, not this thread's
            self._writer.submit(lambda: connection.close())
            self._writer.shutdown(wait=True)
            self._writer = None
