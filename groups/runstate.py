"""Per-run and per-window caches of the sync: what one run has seen (RunCache) and the groups
one window of events shares between its handlers (WindowGroups), with the reads and writes of
group rows that go through them.

They let the sync skip reading back what it wrote, so it can compute a window's writes while
the previous window is still being committed; see each class for why that stays exact. Both
are plain objects handed in by groups.handlers (a run's state and a window scope of the
engine's registry); the services take the window as `window=` and work without one (no
cache, writes at once) everywhere else.
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from ajo.db.bulk import IMMEDIATE, WriteSink, chunks, save_fields
from groups.models import Group


class RunCache:
    """Ids of users and tokens, and event-derived groups, seen during one sync run.

    Ids never change and only a reorg revert deletes rows (the engine resets the run's state
    then), so within a run the sync can skip looking them up again; a miss falls back to the
    database. Groups indexed from events are written only by the sync while it holds the
    writer lock (a tx ingested through the API ahead of the sync makes the next window
    revert, which resets the run too), so the run keeps them in memory instead of loading
    them every window.
    """

    # A long --follow run starts over past these rather than grow without bound (about
    # 150 MB of ids per kind at most).
    MAX_GROUPS = 200_000
    MAX_IDS = 1_000_000

    def __init__(self):
        self.users: dict[str, int] = {}
        self.tokens: dict[str, int] = {}
        self.groups: dict[int, Group] = {}

    def clear(self) -> None:
        self.users.clear()
        self.tokens.clear()
        self.groups.clear()

    def too_big(self) -> bool:
        return len(self.groups) > self.MAX_GROUPS or (
            max(len(self.users), len(self.tokens)) > self.MAX_IDS
        )


def _no_barrier() -> None:
    """Writes at once: nothing is computed ahead of them."""


class WindowGroups:
    """The groups one batch of events touches, shared by every handler of the batch (and kept
    for the next batches of a sync run, see RunCache), with where the batch's writes go.

    Each event type's handler used to load the groups it touches and write them back; in a
    batch with groups created, joined, paid into and paid out, that was up to six loads and
    six writes of the same rows. Within `group_window()` they are loaded once, changed in
    memory by each handler, and written back in one statement when all handlers succeeded.
    Nothing reads group rows with SQL in between, so deferring the write changes nothing.

    `out` is the window's sink (every write of the batch goes there: the sync's pipeline
    records them to run on its writer thread). `request_barrier()` says this batch changed
    rows the next batch reads from the database, so it must be committed first.
    """

    def __init__(
        self,
        *,
        run: RunCache | None = None,
        out: WriteSink = IMMEDIATE,
        request_barrier: Callable[[], None] = _no_barrier,
    ):
        self.run = run
        self.out = out
        self.request_barrier = request_barrier
        self.loaded: dict[int, Group] = run.groups if run is not None else {}
        self.changed: dict[int, Group] = {}
        self.fields: set[str] = set()

    @property
    def users(self) -> dict[str, int]:
        """The run's {address: user id} (a throwaway dict outside a run)."""
        return self.run.users if self.run is not None else {}

    @property
    def tokens(self) -> dict[str, int]:
        return self.run.tokens if self.run is not None else {}

    def flush(self) -> None:
        save_fields(Group, self.changed.values(), sorted(self.fields), out=self.out)
        # Rows read from view functions can still be changed by the API: not kept. The next
        # batch reads them from the database, so this batch's writes must land first.
        views = [i for i, g in self.loaded.items() if g.source != Group.Source.EVENTS]
        for group_id in views:
            del self.loaded[group_id]
        if views:
            self.request_barrier()
        run = self.run
        if run is not None and run.too_big():
            # Start over. The next batch then reads from the database what it would have
            # found here (rows this batch creates included): this batch must land first.
            run.clear()
            self.request_barrier()


@contextmanager
def group_window(
    *,
    run: RunCache | None = None,
    out: WriteSink = IMMEDIATE,
    request_barrier: Callable[[], None] = _no_barrier,
) -> Iterator[WindowGroups]:
    window = WindowGroups(run=run, out=out, request_barrier=request_barrier)
    try:
        yield window
        window.flush()
    except BaseException:
        # The transaction rolls back: the run's copies may hold changes that never landed.
        if run is not None:
            run.clear()
        raise


def group_save_many(
    groups: Iterable[Group], fields: list[str], *, window: WindowGroups | None = None
) -> None:
    """Write back `fields` of changed groups: at the end of the batch inside a group window,
    at once outside one."""
    if window is None:
        save_fields(Group, groups, fields)
        return
    changed = window.changed
    for group in groups:
        changed[group.id] = group
    window.fields.update(fields)


def groups_by_id(
    group_ids: Iterable[int], *, window: WindowGroups | None = None
) -> dict[int, Group]:
    """{id: group} for the ids that exist; inside a group window, the window's shared rows."""
    loaded = window.loaded if window is not None else {}
    ids = sorted(set(group_ids))
    found: dict[int, Group] = {i: loaded[i] for i in ids if i in loaded}
    for part in chunks([i for i in ids if i not in found]):
        found.update((group.id, group) for group in Group.objects.filter(id__in=part))
    if window is not None:
        loaded.update(found)
    return found
