"""Raw eth_getLogs entries -> typed events (ajo.contract.events), without web3's per-log
formatting.

The six events have fixed layouts, so indexed arguments are read straight from the topics and
static data words are sliced from the hex; only GroupCreated's string goes through eth_abi.
This runs an order of magnitude faster than web3's `process_log`, which is the indexer's
hot path.
"""

from collections.abc import Callable, Iterable

from eth_abi import decode as abi_decode

from ajo.contract.artifacts import event_topics
from ajo.contract.events import (
    ContributionMade,
    Event,
    GroupCompleted,
    GroupCreated,
    GroupStarted,
    MemberJoined,
    PayoutSent,
)
from ajo.engine.errors import DecodeError


def _address(topic: str) -> str:
    return "0x" + topic[-40:].lower()


def _word(data: str, index: int) -> int:
    start = 2 + 64 * index
    return int(data[start : start + 64], 16)


# Each decoder returns the event's own fields, in order; decode_logs puts where the log sits
# (block number, block hash, block time, tx hash, log index) in front. This is the hot path.


def chain_text(raw: bytes) -> str:
    """Free text a user put on chain (a group's name), as text the database can hold.

    The contract takes any bytes: they need not be UTF-8, and may hold a NUL, which
    PostgreSQL cannot store. Each undecodable sequence and each NUL becomes U+FFFD, so one
    user's odd name neither stops the sync nor is silently shortened. The view functions'
    answers go through here too, so `verify_chain` compares like with like.
    """
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _group_created(log: dict, topics: list[str]) -> tuple:
    # "bytes" has the layout of "string" without eth_abi's strict UTF-8 decoding
    amount, frequency, max_members, raw_name = abi_decode(
        ["uint256", "uint64", "uint16", "bytes"], bytes.fromhex(log["data"][2:])
    )
    name = chain_text(raw_name)
    group_id, creator, token = int(topics[1], 16), _address(topics[2]), _address(topics[3])
    return group_id, creator, token, amount, frequency, max_members, name


def _member_joined(log: dict, topics: list[str]) -> tuple:
    return int(topics[1], 16), _address(topics[2]), _word(log["data"], 0)


def _group_started(log: dict, topics: list[str]) -> tuple:
    return int(topics[1], 16), _word(log["data"], 0)


def _round_payment(log: dict, topics: list[str]) -> tuple:
    """ContributionMade and PayoutSent: (group, member, round) indexed, then the amount."""
    return (
        int(topics[1], 16),
        "0x" + topics[2][-40:].lower(),
        int(topics[3], 16),
        int(log["data"][2:66], 16),
    )


def _group_completed(log: dict, topics: list[str]) -> tuple:
    return (int(topics[1], 16),)


_DECODERS: dict[str, tuple[type[Event], int, int, Callable[[dict, list[str]], tuple]]] = {
    # name: (event type, topics expected, data words at least, the event's own fields)
    "GroupCreated": (GroupCreated, 4, 4, _group_created),
    "MemberJoined": (MemberJoined, 3, 1, _member_joined),
    "GroupStarted": (GroupStarted, 2, 1, _group_started),
    "ContributionMade": (ContributionMade, 4, 1, _round_payment),
    "PayoutSent": (PayoutSent, 4, 1, _round_payment),
    "GroupCompleted": (GroupCompleted, 2, 0, _group_completed),
}


def _by_topic() -> dict[str, tuple[str, type[Event], int, int, Callable]]:
    topics = event_topics()
    return {topics[name]: (name, *spec) for name, spec in _DECODERS.items()}


def decode_logs(logs: Iterable[dict], block_times: dict[int, int]) -> dict[str, list[Event]]:
    """Decode logs into {event name: [events in chain order]}; unknown topics are skipped.

    `block_times` maps block number -> unix time for logs that carry no blockTimestamp.
    """
    by_topic = _by_topic()
    decoded: dict[str, list[Event]] = {name: [] for name in _DECODERS}
    for log in logs:
        topics = log.get("topics") or []
        spec = by_topic.get(topics[0]) if topics else None
        if spec is None or log.get("removed"):
            continue
        name, event_type, topic_count, words, fields = spec
        data = log.get("data") or "0x"
        if len(topics) != topic_count or len(data) < 2 + 64 * words:
            raise DecodeError(
                f"{name} log at tx {log.get('transactionHash')} index {log.get('logIndex')} "
                "does not match the event's layout"
            )
        number = int(log["blockNumber"], 16)
        stamp = log.get("blockTimestamp")
        block_time = int(stamp, 16) if stamp else block_times[number]
        decoded[name].append(
            event_type(
                number,
                log["blockHash"],
                block_time,
                log["transactionHash"],
                int(log["logIndex"], 16),
                *fields(log, topics),
            )
        )
    return decoded
