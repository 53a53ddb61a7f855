"""Typed contract events: what the handlers, sync and tx ingest pass around.

Every event carries where it happened (block, tx, log index, block time as unix seconds);
addresses are lowercase, amounts are ints.

Not `frozen`: a frozen dataclass sets each field through object.__setattr__, which made
building the events several times slower, and the sync builds one per log. Nothing changes
an event after decoding.
"""

from dataclasses import dataclass


@dataclass(slots=True)
class Event:
    block_number: int
    block_hash: str
    block_time: int
    tx_hash: str
    log_index: int


@dataclass(slots=True)
class GroupCreated(Event):
    group_id: int
    creator: str
    token: str
    contribution_amount: int
    frequency: int
    max_members: int
    name: str


@dataclass(slots=True)
class MemberJoined(Event):
    group_id: int
    member: str
    position: int


@dataclass(slots=True)
class GroupStarted(Event):
    group_id: int
    start_time: int


@dataclass(slots=True)
class ContributionMade(Event):
    group_id: int
    member: str
    round: int
    amount: int


@dataclass(slots=True)
class PayoutSent(Event):
    group_id: int
    recipient: str
    round: int
    amount: int


@dataclass(slots=True)
class GroupCompleted(Event):
    group_id: int


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        GroupCreated,
        MemberJoined,
        GroupStarted,
        ContributionMade,
        PayoutSent,
        GroupCompleted,
    )
}
