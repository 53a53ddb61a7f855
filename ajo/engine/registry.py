"""The engine's door: what it indexes (a Source) and what the apps do with it (hooks).

The engine knows blocks, logs, windows and checkpoints; the apps know what the events mean.
They meet only here. ajo/apps.py registers the Source (ajo.contract.spec: the contract's
address, its event types in emission order and their decoder); each app registers, from its
one `handlers` module, what it does:

- `handles(EventType)`: a batch handler `fn(*, events, window) -> int` for one event type.
  Handlers run in the Source's emission order within one transaction per window: the
  contract emits GroupCreated before MemberJoined before GroupStarted before contributions
  and payouts, and applying one event type at a time in that order gives the same state as
  applying the logs one by one (every total is a sum, every state flag is set once).
- `run_state(factory, clear=...)`: state an app keeps between the windows of one run (a
  cache of ids, say), reached through `key.of(run)`. The engine resets it (`Run.reset`)
  wherever the database may no longer match it: a revert, a failed or dropped window, rows
  settled at a checkpoint.
- `window_scope(factory)`: a context manager entered around one window's handlers, given the
  WindowContext: what the handlers of one window share (and write back once at its end).
- `on_revert(delete=, rebuild=)`: undo what blocks above a height wrote; all deletes first,
  then all rebuilds, each phase in revert order (below). Notes (`revert_note`) carry what
  one hook touched to the others.
- `on_roll_up`, `on_after_window`, `on_checkpoint`, `before_ingest`, `on_verify`: below.

Where order matters between apps (reverts, database checks) it follows the imports, not
numbers: an app's hooks run before those of the apps it builds on. An app that builds on
another imports that app's handlers module, so that module registers first; hooks in revert
order are the registrations in reverse. The engine imports no app and no contract module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ajo.db.bulk import IMMEDIATE, WriteSink
from ajo.engine.source import Source

if TYPE_CHECKING:
    from ajo.engine.rpc import RpcClient

S = TypeVar("S")
W = TypeVar("W")
N = TypeVar("N")
T = TypeVar("T")

Handler = Callable[..., int]


# --- what is indexed ---------------------------------------------------------------------------


_source: Source | None = None


def use_source(source: Source) -> None:
    global _source
    _source = source


def source() -> Source:
    if _source is None:
        raise RuntimeError("no Source registered: ajo's AppConfig.ready() registers it")
    return _source


# --- run state -----------------------------------------------------------------------------


class StateKey(Generic[S]):
    """One app's state in a Run (see run_state)."""

    def __init__(self, factory: Callable[[], S], clear: Callable[[S], None]):
        self.factory = factory
        self.clear = clear

    def of(self, run: Run) -> S:
        try:
            return run._states[self]
        except KeyError:
            state = run._states[self] = self.factory()
            return state


def run_state(factory: Callable[[], S], *, clear: Callable[[S], None]) -> StateKey[S]:
    """Register state kept for one run between its windows, built by `factory()` the first
    time a run asks for it, emptied by `clear(state)` whenever the engine resets the run."""
    return StateKey(factory, clear)


class Run:
    """One sync run (or one tx ingest): the apps' state between windows, reset together."""

    def __init__(self):
        self._states: dict[StateKey, Any] = {}

    def reset(self) -> None:
        """Empty every app's state: rows may have changed (a revert, a rolled-back window,
        rows settled at a checkpoint) or what was computed ahead was dropped."""
        for key, state in self._states.items():
            key.clear(state)


# --- windows -------------------------------------------------------------------------------


@dataclass(eq=False)
class WindowContext:
    """What the engine hands the handlers of one window (or of one ingested transaction)."""

    run: Run
    # Where the handlers' writes go: IMMEDIATE, or the pipeline's recording sink.
    out: WriteSink = IMMEDIATE
    barrier: bool = False
    scopes: dict[ScopeKey, Any] = field(default_factory=dict)

    def request_barrier(self) -> None:
        """My writes change rows the next window reads from the database: commit this
        window before computing the next (the pipeline; without one, writes are at once)."""
        self.barrier = True


class ScopeKey(Generic[W]):
    """One app's per-window scope (see window_scope)."""

    def __init__(self, factory: Callable[[WindowContext], AbstractContextManager[W]]):
        self.factory = factory

    def of(self, window: WindowContext) -> W:
        return window.scopes[self]


_handlers: dict[type, Handler] = {}
_window_scopes: list[ScopeKey] = []


def handles(event_type: type) -> Callable[[Handler], Handler]:
    """Register `fn(*, events: list[event_type], window: WindowContext) -> int`."""

    def register(fn: Handler) -> Handler:
        _handlers[event_type] = fn
        return fn

    return register


def window_scope(factory: Callable[[WindowContext], AbstractContextManager[W]]) -> ScopeKey[W]:
    """Register a context manager entered around each window's handlers (inside its
    transaction): state the handlers share within one window, written back once when all of
    them succeeded. `key.of(window)` is what it yielded."""
    key = ScopeKey(factory)
    _window_scopes.append(key)
    return key


def event_names() -> list[str]:
    """The event names handled, in the order their handlers run (the Source's)."""
    return [t.__name__ for t in source().event_types if t in _handlers]


def apply_events(decoded: dict[str, list], window: WindowContext) -> dict[str, int]:
    """Run every handler on its events, in order; returns {event name: rows applied}."""
    applied = {}
    with contextlib.ExitStack() as scopes:
        for key in _window_scopes:
            window.scopes[key] = scopes.enter_context(key.factory(window))
        for event_type in source().event_types:
            handler = _handlers.get(event_type)
            if handler is None:
                continue
            name = event_type.__name__
            events = decoded.get(name)
            applied[name] = handler(events=events, window=window) if events else 0
    window.scopes.clear()
    return applied


# --- reverts -------------------------------------------------------------------------------


class NoteKey(Generic[N]):
    """One kind of note a revert's hooks share (see revert_note)."""

    def __init__(self, factory: Callable[[], N]):
        self.factory = factory


def revert_note(factory: Callable[[], N]) -> NoteKey[N]:
    """A note the hooks of one revert share, built by `factory()` when first asked for:
    what one app's delete touched that another app's rebuild must redo."""
    return NoteKey(factory)


@dataclass(eq=False)
class RevertContext:
    """One revert of every row above block_number."""

    block_number: int
    notes: dict[NoteKey, Any] = field(default_factory=dict)

    def note(self, key: NoteKey[N]) -> N:
        try:
            return self.notes[key]
        except KeyError:
            note = self.notes[key] = key.factory()
            return note


RevertHook = Callable[[RevertContext], None]
_revert_hooks: list[tuple[RevertHook | None, RevertHook | None]] = []


def on_revert(*, delete: RevertHook | None = None, rebuild: RevertHook | None = None) -> None:
    """Register what undoes the rows of blocks above context.block_number: `delete` removes
    them (and notes what it touched), `rebuild` rebuilds what was derived from them, once
    every app has deleted."""
    if (delete, rebuild) not in _revert_hooks:
        _revert_hooks.append((delete, rebuild))


def revert_above(block_number: int, *, run: Run | None = None) -> RevertContext:
    """Undo every row above block_number: the run's state first (rows are about to go),
    then every app's delete, then every app's rebuild, each in revert order."""
    if run is not None:
        run.reset()
    context = RevertContext(block_number=block_number)
    in_order = list(reversed(_revert_hooks))
    for delete, _ in in_order:
        if delete is not None:
            delete(context)
    for _, rebuild in in_order:
        if rebuild is not None:
            rebuild(context)
    return context


# --- other run hooks -------------------------------------------------------------------------

_roll_up_hooks: list[Callable[..., None]] = []
_after_window_hooks: list[Callable[[RpcClient, str], None]] = []
_checkpoint_hooks: list[Callable[..., bool]] = []
_before_ingest_hooks: list[Callable[..., str | None]] = []


def on_roll_up(fn: Callable[..., None]) -> None:
    """Register `fn(*, after_block, through_block, tx_hash=None)`: fold the stored rows of
    those blocks (or of that one transaction) into totals kept up to date in bulk rather
    than per window. The sync calls it at the end of a catch-up, every ROLL_UP_EVENTS events
    and before a revert (ajo.engine.checkpoint); tx ingest for the rows it inserted."""
    if fn not in _roll_up_hooks:
        _roll_up_hooks.append(fn)


def roll_up(*, after_block: int, through_block: int, tx_hash: str | None = None) -> None:
    for hook in _roll_up_hooks:
        hook(after_block=after_block, through_block=through_block, tx_hash=tx_hash)


def on_after_window(fn: Callable[[RpcClient, str], None]) -> None:
    """Register `fn(client, contract)`, run after each committed window (outside its
    transaction): chain reads a window's rows call for, such as a new token's metadata."""
    if fn not in _after_window_hooks:
        _after_window_hooks.append(fn)


def after_window(client: RpcClient, contract: str) -> None:
    for hook in _after_window_hooks:
        hook(client, contract)


def on_checkpoint(fn: Callable[..., bool]) -> None:
    """Register `fn(*, through_block) -> bool`, run in the transaction that moves the sync's
    checkpoint to through_block (on the sync's writer thread when it has one): settle rows
    stored ahead of the sync that the indexed blocks now prove or disprove, such as rows
    read from view functions. Returns True when it changed rows, which makes the sync reset
    its run and drop what it computed ahead."""
    if fn not in _checkpoint_hooks:
        _checkpoint_hooks.append(fn)


def checkpoint_reached(through_block: int) -> bool:
    changed = False
    for hook in _checkpoint_hooks:
        changed = hook(through_block=through_block) or changed
    return changed


def before_ingest(fn: Callable[..., str | None]) -> None:
    """Register `fn(*, decoded, block_number) -> str | None`, run by tx ingest before its
    transaction for a block the sync has not indexed: make present what the events need
    (rows they refer to, read from the chain). A string is why the transaction cannot be
    ingested now (the chain or the node is reorganising)."""
    if fn not in _before_ingest_hooks:
        _before_ingest_hooks.append(fn)


def ingest_starting(*, decoded: dict[str, list], block_number: int) -> str | None:
    for hook in _before_ingest_hooks:
        reason = hook(decoded=decoded, block_number=block_number)
        if reason:
            return reason
    return None


# --- verification ----------------------------------------------------------------------------


@dataclass(eq=False)
class VerifyContext:
    """What a chain check gets: the node, the contract, the block to compare at, and the
    engine's way of reading many logs within a provider's limits."""

    client: RpcClient
    contract: str
    block: int | str  # the indexed block, or "latest" before anything is indexed
    indexed: int | None  # the checkpoint (None: nothing indexed yet)
    start_block: int | None
    # read_logs(query, first=, last=, size=) -> one list of logs per window
    # (ajo.engine.windows.logs_in_windows on this context's client)
    read_logs: Callable[..., Iterable[list[dict]]]
    scope: Any = None  # what to check, as the caller and the checks agree; None: everything
    memo: dict[Callable, Any] = field(default_factory=dict)

    def shared(self, compute: Callable[[VerifyContext], T]) -> T:
        """compute(self), once per verification: reads several checks need."""
        try:
            return self.memo[compute]
        except KeyError:
            value = self.memo[compute] = compute(self)
            return value


_chain_checks: list[Callable[[VerifyContext], list[str]]] = []
_database_checks: list[Callable[[], list[str]]] = []


def on_verify(
    *,
    chain: Callable[[VerifyContext], list[str]] | None = None,
    database: Callable[[], list[str]] | None = None,
) -> None:
    """Register checks, each returning one line per difference a person can act on: `chain`
    compares the database with the chain as of the indexed block; `database` checks what
    must hold whatever the chain says, without a node."""
    if chain is not None and chain not in _chain_checks:
        _chain_checks.append(chain)
    if database is not None and database not in _database_checks:
        _database_checks.append(database)


def chain_checks() -> list[Callable[[VerifyContext], list[str]]]:
    """In registration order: the apps others build on first, as their rows are."""
    return list(_chain_checks)


def database_checks() -> list[Callable[[], list[str]]]:
    """In revert order: the rows of the apps built on others (and their sums) before what
    the apps below derive from those sums."""
    return list(reversed(_database_checks))
