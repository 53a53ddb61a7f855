"""Registry of batch handlers: the engine knows logs, the apps know what events mean.

Apps register in their AppConfig.ready() (groups/handlers.py, contributions/handlers.py).
Handlers run in `order` within one transaction per batch: the contract emits GroupCreated
before MemberJoined before GroupStarted before contributions and payouts, and applying one
event type at a time in that order gives the same state as applying the logs one by one
(every total is a sum, every state flag is set once).
"""

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from ajo.contract.events import Event

BatchHandler = Callable[..., int]


@dataclass
class RevertContext:
    """What a revert touched, so later hooks can rebuild derived state once."""

    block_number: int
    group_ids: set[int] = field(default_factory=set)
    user_ids: set[int] = field(default_factory=set)
    token_ids: set[int] = field(default_factory=set)


_handlers: dict[str, tuple[int, BatchHandler]] = {}
_revert_hooks: list[tuple[int, Callable[[RevertContext], None]]] = []
_after_window_hooks: list[Callable] = []
_roll_up_hooks: list[Callable[..., None]] = []
_checkpoint_hooks: list[Callable[..., bool]] = []
_window_scopes: list[Callable[[], AbstractContextManager]] = []


def handles(event_name: str, *, order: int):
    """Register `fn(*, events: list[Event]) -> int` for one event type."""

    def register(fn: BatchHandler) -> BatchHandler:
        _handlers[event_name] = (order, fn)
        return fn

    return register


def on_revert(*, order: int):
    """Register `fn(context)` to undo what blocks above context.block_number wrote."""

    def register(fn):
        if all(existing is not fn for _, existing in _revert_hooks):
            _revert_hooks.append((order, fn))
            _revert_hooks.sort(key=lambda item: item[0])
        return fn

    return register


def on_after_window(fn):
    """Register `fn(client, contract)`, run after each committed window (outside its
    transaction): chain reads a window's rows call for, such as a new token's metadata."""
    if fn not in _after_window_hooks:
        _after_window_hooks.append(fn)
    return fn


def on_roll_up(fn):
    """Register `fn(*, after_block, through_block, tx_hash=None)`: fold the stored rows of
    those blocks (or of that one transaction) into totals kept up to date in bulk rather
    than per batch. The sync calls it at the end of a catch-up, every ROLL_UP_EVENTS events
    and before a revert (ajo.engine.checkpoint); tx ingest for the rows it inserted."""
    if fn not in _roll_up_hooks:
        _roll_up_hooks.append(fn)
    return fn


def on_checkpoint(fn):
    """Register `fn(*, through_block) -> bool`, run in the transaction that moves the sync's
    checkpoint to through_block (on the sync's writer thread when it has one): settle rows
    stored ahead of the sync that the indexed blocks now prove or disprove, such as rows
    read from view functions. Returns True when it changed rows, which makes the sync drop
    its caches and what it computed ahead."""
    if fn not in _checkpoint_hooks:
        _checkpoint_hooks.append(fn)
    return fn


def checkpoint_reached(through_block: int) -> bool:
    changed = False
    for hook in _checkpoint_hooks:
        changed = hook(through_block=through_block) or changed
    return changed


def roll_up(*, after_block: int, through_block: int, tx_hash: str | None = None) -> None:
    for hook in _roll_up_hooks:
        hook(after_block=after_block, through_block=through_block, tx_hash=tx_hash)


def window_scope(factory: Callable[[], AbstractContextManager]):
    """Register a context manager entered around each batch's handlers (inside its
    transaction): state the handlers share within one batch, written back once when all of
    them succeeded."""
    if factory not in _window_scopes:
        _window_scopes.append(factory)
    return factory


def after_window(client, contract: str) -> None:
    for hook in _after_window_hooks:
        hook(client, contract)


def event_names() -> list[str]:
    """The event names handled, in the order their handlers run."""
    return [name for name, _ in sorted(_handlers.items(), key=lambda item: item[1][0])]


def apply_events(decoded: dict[str, list[Event]]) -> dict[str, int]:
    """Run every handler on its events, in order; returns {event name: rows applied}."""
    applied = {}
    with contextlib.ExitStack() as scopes:
        for factory in _window_scopes:
            scopes.enter_context(factory())
        for name in event_names():
            handler = _handlers[name][1]
            events = decoded.get(name) or []
            applied[name] = handler(events=events) if events else 0
    return applied


def revert_above(block_number: int) -> RevertContext:
    context = RevertContext(block_number=block_number)
    for _, hook in _revert_hooks:
        hook(context)
    return context
