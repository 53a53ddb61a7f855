"""What the engine indexes: one contract, as the engine needs it (registered through
ajo.engine.registry.use_source). A plain record without Django, so the contract package can
build it (ajo.contract.spec) and stay free of the ORM."""

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """The contract the engine indexes, as the engine needs it."""

    # The configured address, lowercase; raises (with a one-line reason) when there is none.
    address: Callable[[], str]
    # Every event type, in the order the contract emits them: handlers run in this order.
    event_types: tuple[type, ...]
    # topic0 of every event (the bloom check asks each block's logsBloom for them).
    topics: Callable[[], Collection[str]]
    # Raw logs and {block number: unix time} -> {event type name: [events in chain order]}.
    decode_logs: Callable[[Iterable[dict], dict[int, int]], dict[str, list]]
