"""Checks on what an RPC provider answered, before the sync trusts it: pure functions over
the JSON answers (eth_getLogs entries, block headers), no database, no RPC.

A load-balanced provider can answer from a node on another fork, from one that lags behind
the head (getLogs answers `[]` for blocks it does not have yet), or with a partial answer.
Each log must sit in the block its header describes (`blockHash`, `blockTimestamp`), come
from the contract, lie inside the requested range and not be `removed`; and each block's
`logsBloom` (the 2048-bit filter of every address and topic that logged in it) must agree
with the logs that came back: logs the bloom rules out are a lie; a bloom that says the
contract may have logged an event the answer lacks is a suspect, for the sync to confirm
with a query for that one block (a bloom has false positives, never false negatives).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from eth_utils import keccak

# What a failed check is counted as (the metric's label).
KINDS = ("range", "header", "hash", "removed", "address", "malformed", "bloom", "omitted")


class ProviderLie(Exception):
    """An answer that cannot be true of the chain; `block` is where it was seen, `kind` one
    of KINDS."""

    def __init__(self, block: int | None, check: str, kind: str):
        self.block = block
        self.check = check
        self.kind = kind
        where = f"block {block}: " if block is not None else ""
        super().__init__(f"{where}{check}")


@cache
def bloom_mask(item_hex: str) -> int:
    """The three bits an address or topic sets in a logsBloom, as a 2048-bit integer mask
    (yellow paper, M3:2048: the low 11 bits of the first three byte pairs of keccak)."""
    digest = keccak(bytes.fromhex(item_hex.removeprefix("0x").lower()))
    mask = 0
    for i in (0, 2, 4):
        mask |= 1 << (((digest[i] << 8) | digest[i + 1]) & 2047)
    return mask


def bloom_may_contain(bloom: int, item_hex: str) -> bool:
    """False when the bloom rules the address/topic out; True when it may be there."""
    mask = bloom_mask(item_hex)
    return bloom & mask == mask


@dataclass
class Checked:
    """What a window's logs say per block, once they passed `check_logs`."""

    topics: dict[int, set[str]] = field(default_factory=dict)  # block -> topic0s returned
    hashes: dict[int, str] = field(default_factory=dict)  # block -> hash, blocks with logs


def check_logs(
    logs: Iterable[dict], *, contract: str, first: int, last: int, headers: dict[int, dict]
) -> Checked:
    """Every log against the request and the headers of [first, last]. Raises ProviderLie
    at the first log that cannot be true. One pass; per block (not per log) where it can."""
    checked = Checked()
    # blockNumber hex -> (number, header hash, header timestamp hex): a block's range and
    # header are looked up once, each log is compared with them
    blocks: dict[str, tuple[int, str, str]] = {}
    number = None
    try:
        for log in logs:
            number_hex = log["blockNumber"]
            block = blocks.get(number_hex)
            if block is None:
                number = int(number_hex, 16)
                if not first <= number <= last:
                    raise ProviderLie(
                        number, f"log outside the requested blocks {first}-{last}", "range"
                    )
                header = headers.get(number)
                if header is None:
                    raise ProviderLie(number, "log for a block without a header", "header")
                block = blocks[number_hex] = (number, header["hash"], header["timestamp"])
                checked.hashes[number] = header["hash"]
                checked.topics[number] = set()
            number, block_hash, timestamp = block
            if log["blockHash"] != block_hash:
                raise ProviderLie(
                    number,
                    f"log blockHash {log['blockHash']} is not the header's {block_hash} "
                    "(another fork)",
                    "hash",
                )
            stamp = log.get("blockTimestamp")
            if stamp and stamp != timestamp and int(stamp, 16) != int(timestamp, 16):
                raise ProviderLie(
                    number, "log blockTimestamp is not the header's timestamp", "hash"
                )
            if log.get("removed"):
                raise ProviderLie(number, "log flagged removed (the node saw a reorg)", "removed")
            address = log["address"]
            if address != contract and address.lower() != contract:
                raise ProviderLie(number, f"log from {address}, not the contract", "address")
            topics = log["topics"]
            if not topics:
                raise ProviderLie(number, "log without topics", "malformed")
            checked.topics[number].add(topics[0])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ProviderLie(
            number, f"malformed log ({type(exc).__name__}: {exc})", "malformed"
        ) from None
    return checked


def check_blooms(
    checked: Checked, *, contract: str, headers: dict[int, dict], topics: Iterable[str]
) -> dict[int, list[str]]:
    """Each header's logsBloom against the logs that came back for its block.

    Raises ProviderLie for logs in a block whose bloom rules out the contract or their event.
    Returns the suspects: {block: [our topic0s the bloom may hold but no log of the answer
    has]}, each a possible omission or a false positive, to be told apart by the caller."""
    topics = tuple(topics)
    masks = [(topic, bloom_mask(topic)) for topic in topics]
    contract_mask = bloom_mask(contract)
    suspects: dict[int, list[str]] = {}
    for number, header in headers.items():
        bloom = int(header["logsBloom"], 16)
        has_contract = bloom & contract_mask == contract_mask
        returned = checked.topics.get(number)
        if returned:
            if not has_contract:
                raise ProviderLie(
                    number, "logs for a block whose logsBloom rules the contract out", "bloom"
                )
            for topic in returned:
                if not bloom_may_contain(bloom, topic):
                    raise ProviderLie(
                        number,
                        f"log with topic {topic} that the block's logsBloom rules out",
                        "bloom",
                    )
        if has_contract:
            missing = [
                topic
                for topic, mask in masks
                if bloom & mask == mask and (not returned or topic not in returned)
            ]
            if missing:
                suspects[number] = missing
    return suspects


def confirm_suspects(
    suspects: dict[int, list[str]], answers: dict[int, list | Exception]
) -> tuple[int, ProviderLie | None]:
    """Judge the narrow answers (getLogs by blockHash for the suspect topics, EIP-234) for
    each suspect block. Returns (false positives, the omission found or None).

    An empty narrow answer means the bloom gave a false positive. Logs in it mean the wide
    answer left them out. A narrow query that failed leaves the block unconfirmed (a node
    that does not have the block yet answers an error: the lagging node behind a load
    balancer), so it counts as left out too and the window is fetched again."""
    false_positives = 0
    lie = None
    for number in sorted(suspects):
        answer = answers.get(number)
        if isinstance(answer, list) and not answer:
            false_positives += 1
        elif lie is None:
            if isinstance(answer, list):
                check = (
                    f"the getLogs answer lacks {len(answer)} log(s) of this block that its "
                    "logsBloom and a query for the block show (a partial answer, or a node "
                    "behind the head)"
                )
            else:
                check = (
                    "its logsBloom says the contract may have logged, the getLogs answer has "
                    f"nothing, and a query for the block failed ({answer})"
                )
            lie = ProviderLie(number, check, "omitted")
    return false_positives, lie
