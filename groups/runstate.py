"""Per-run and per-window caches of the sync: what one run has seen (RunCache) and the groups
one window of events shares between its handlers (WindowGroups), with the reads and writes of
group rows that go through them.

They let the sync skip reading back what it wrote, so it can compute a window's writes while
the previous window is still being committed; see each class for why that stays exact.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from ajo.db.bulk import chunks, request_barrier, save_fields
from groups.models import Group


class RunCache:
    """Ids of users and tokens, and event-derived groups, seen during one sync run.

    Ids never change and only a reorg revert deletes rows (it clears the cache), so within a
    run the sync can skip looking them up again; a miss falls back to the database. Groups
    indexed from events are written only by the sync while it holds the writer lock (a tx
    ingested through the API ahead of the sync makes the next window revert, which clears
    the cache too), so the run keeps them in memory instead of loading them every window.
    Outside a run (`active` is None) nothing is cached.
    """

    active: "RunCache | None" = None
    # A long --follow run starts over past these rather than grow without bound (about
    # 150 MB of ids per kind at most).
    MAX_GROUPS = 200_000
    MAX_IDS = 1_000_000

    def __init__(self):
        self.users: dict[str, int] = {}
        self.tokens: dict[str, int] = {}
        self.groups: dict[int, Group] = {}

    @classmethod
    def clear(cls) -> None:
        if cls.active is not None:
            cls.active.users.clear()
            cls.active.tokens.clear()
            cls.active.groups.clear()

    def too_big(self) -> bool:
        return len(self.groups) > self.MAX_GROUPS or (
            max(len(self.users), len(self.tokens)) > self.MAX_IDS
        )


class WindowGroups:
    """The groups one batch of events touches, shared by every handler of the batch (and kept
    for the next batches of a sync run, see RunCache).

    Each event type's handler used to load the groups it touches and write them back; in a
    batch with groups created, joined, paid into and paid out, that was up to six loads and
    six writes of the same rows. Within `group_window()` they are loaded once, changed in
    memory by each handler, and written back in one statement when all handlers succeeded.
    Nothing reads group rows with SQL in between, so deferring the write changes nothing.
    """

    active: "WindowGroups | None" = None

    def __init__(self):
        run = RunCache.active
        self.loaded: dict[int, Group] = run.groups if run is not None else {}
        self.changed: dict[int, Group] = {}
        self.fields: set[str] = set()

    def flush(self) -> None:
        save_fields(Group, self.changed.values(), sorted(self.fields))
        # Rows read from view functions can still be changed by the API: not kept. The next
        # batch reads them from the database, so this batch's writes must land first.
        views = [i for i, g in self.loaded.items() if g.source != Group.Source.EVENTS]
        for group_id in views:
            del self.loaded[group_id]
        if views:
            request_barrier()
        run = RunCache.active
        if run is not None and run.too_big():
            # Start over. The next batch then reads from the database what it would have
            # found here (rows this batch creates included): this batch must land first.
            RunCache.clear()
            request_barrier()


@contextmanager
def group_window() -> Iterator[WindowGroups]:
    WindowGroups.active = window = WindowGroups()
    try:
        yield window
        window.flush()
    except BaseException:
        # The transaction rolls back: the run's copies may hold changes that never landed.
        RunCache.clear()
        raise
    finally:
        WindowGroups.active = None


def group_save_many(groups: Iterable[Group], fields: list[str]) -> None:
    """Write back `fields` of changed groups: at the end of the batch inside a group window,
    at once outside one."""
    window = WindowGroups.active
    if window is None:
        save_fields(Group, groups, fields)
        return
    for group in groups:
        window.changed[group.id] = group
    window.fields.update(fields)


def groups_by_id(group_ids: Iterable[int]) -> dict[int, Group]:
    """{id: group} for the ids that exist; inside a group window, the window's shared rows."""
    window = WindowGroups.active
    loaded = window.loaded if window is not None else {}
    ids = sorted(set(group_ids))
    found: dict[int, Group] = {i: loaded[i] for i in ids if i in loaded}
    for part in chunks([i for i in ids if i not in found]):
        found.update((group.id, group) for group in Group.objects.filter(id__in=part))
    if window is not None:
        loaded.update(found)
    return found
