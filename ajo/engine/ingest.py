"""Ingest one mined transaction now (POST /api/transactions/), through the sync's handlers.

Only the hash comes from the client. The receipt, its logs and the block time are read from
the chain, and only logs emitted by the configured contract are applied. Nothing in the
receipt is taken on trust; before a row is written:
- the receipt's block is the canonical one: its hash equals the node's header at that
  height, and the logs say the same block and transaction;
- the block is SYNC_CONFIRMATIONS deep, as the sync would index it, and not below the start
  block;
- the index does not hold another block at that height (a reorg the sync has not reverted
  yet).
A block the sync has already indexed is answered from the database (its rows are there,
applied 0): rows written below the checkpoint would never be revisited by the sync. Rows
ahead of the checkpoint land with their real block numbers, and the sync replaces them with
what it reads for those blocks (see SyncState.ahead_block), so a reorg cannot strand them.
"""

import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from ajo.engine import registry
from ajo.engine.checkpoint import ensure_state
from ajo.engine.rpc import RpcClient
from ajo.models import BlockRecord, SyncState

TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
BLOCK_HASH = re.compile(r"^0x[0-9a-f]{64}$")


class IngestError(Exception):
    """Base of the reasons a transaction cannot be ingested (each maps to one HTTP status)."""


class InvalidTxHash(IngestError):
    pass


class TxNotFound(IngestError):
    pass


class TxPending(IngestError):
    pass


class NoContractLogs(IngestError):
    pass


class TxNotConfirmed(IngestError):
    """Mined, but not as deep as the sync indexes (SYNC_CONFIRMATIONS)."""


class TxBeforeStartBlock(IngestError):
    """Mined below the block this database starts indexing at."""


class TxNotCanonical(IngestError):
    """The receipt's block is not the node's block at that height, or the index holds
    another block there: a reorg is under way."""


class BlockUnavailable(IngestError):
    """The node cannot show the block the receipt names (a lagging or inconsistent node)."""


class ChainAnswerInvalid(IngestError):
    """The node's receipt is malformed or contradicts itself."""


@dataclass
class IngestResult:
    tx_hash: str
    block_number: int
    events: dict[str, int] = field(default_factory=dict)
    applied: int = 0


@dataclass(frozen=True)
class _Receipt:
    block_number: int
    block_hash: str
    logs: list[dict]  # the contract's, not removed


def ingest_transaction(*, tx_hash: str, client: RpcClient | None = None) -> IngestResult:
    if not isinstance(tx_hash, str) or not TX_HASH.match(tx_hash.strip()):
        raise InvalidTxHash("tx_hash must be 0x followed by 64 hex digits")
    tx_hash = tx_hash.strip().lower()
    source = registry.source()
    contract = source.address()
    client = client or RpcClient(settings.CHAIN_RPC_URL)

    receipt = _receipt(client, tx_hash, contract)
    block_number = receipt.block_number
    start_block = _start_block()
    if block_number < start_block:
        raise TxBeforeStartBlock(
            f"transaction {tx_hash} is in block {block_number}, before block {start_block} "
            f"where this index starts: its group is not indexed here"
        )
    header = _canonical_header(client, receipt)
    decoded = source.decode_logs(receipt.logs, {block_number: int(header["timestamp"], 16)})
    counts = {name: len(events) for name, events in decoded.items() if events}
    result = IngestResult(tx_hash=tx_hash, block_number=block_number, events=counts)

    state = SyncState.objects.filter(pk=1).first()
    if not _is_indexed(state, block_number):
        # the apps make present what the events refer to (groups: rows read from the views)
        reason = registry.ingest_starting(decoded=decoded, block_number=block_number)
        if reason:
            raise TxNotCanonical(reason)
    chain_id = client.chain_id()
    with transaction.atomic():
        ensure_state(chain_id=chain_id, contract=contract, start_block=settings.AJO_START_BLOCK)
        # Locked: the sync's windows take turns with this, so the checkpoint cannot pass
        # the block between the check below and the writes.
        state = SyncState.objects.select_for_update().get(pk=1)
        _check_index_agrees(state, receipt)
        if _is_indexed(state, block_number):
            return result  # the sync stored this block's rows: they are in the database
        # a run of its own: nothing is cached from one request to the next
        applied = registry.apply_events(decoded, registry.WindowContext(registry.Run()))
        # A transaction's rows land together (here, or in the sync's window for its block):
        # all new or none. New ones are rolled up now, unless the sync's next roll-up
        # covers their block already.
        if any(applied.values()) and not state.rolls_up_later(block_number):
            registry.roll_up(
                after_block=block_number - 1, through_block=block_number, tx_hash=tx_hash
            )
        state.ahead_block = max(state.ahead_block or 0, block_number)
        state.save(update_fields=["ahead_block", "updated_at"])
    result.applied = sum(applied.values())
    return result


def _receipt(client: RpcClient, tx_hash: str, contract: str) -> _Receipt:
    """The mined receipt, checked for what it says about itself; the contract's logs."""
    receipt = client.call("eth_getTransactionReceipt", [tx_hash])
    if receipt is None:
        if client.call("eth_getTransactionByHash", [tx_hash]) is None:
            raise TxNotFound(f"transaction {tx_hash} is not known to the chain")
        raise TxPending(f"transaction {tx_hash} is not mined yet: try again after its block")
    try:
        block_number = int(receipt["blockNumber"], 16)
        block_hash = receipt["blockHash"].lower()
        status = int(receipt.get("status") or "0x1", 16)
        logs = [log for log in receipt.get("logs") or [] if isinstance(log, dict)]
        answered = (receipt.get("transactionHash") or tx_hash).lower()
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ChainAnswerInvalid(f"the node's receipt for {tx_hash} is malformed") from None
    if not BLOCK_HASH.match(block_hash) or answered != tx_hash:
        raise ChainAnswerInvalid(f"the node's receipt for {tx_hash} is malformed")
    if status == 0:
        raise NoContractLogs(f"transaction {tx_hash} reverted: it changed nothing")
    try:
        ours = [
            log
            for log in logs
            if (log.get("address") or "").lower() == contract and not log.get("removed")
        ]
        elsewhere = [
            log
            for log in ours
            if (log.get("blockHash") or block_hash).lower() != block_hash
            or (log.get("transactionHash") or tx_hash).lower() != tx_hash
            or int(log.get("blockNumber") or hex(block_number), 16) != block_number
        ]
    except (TypeError, ValueError, AttributeError):
        raise ChainAnswerInvalid(f"the node's receipt for {tx_hash} is malformed") from None
    if not ours:
        raise NoContractLogs(f"transaction {tx_hash} emitted no events of the Ajo contract")
    if elsewhere:
        raise ChainAnswerInvalid(
            f"the node's receipt for {tx_hash} names another block or transaction in its "
            f"logs: not ingested"
        )
    return _Receipt(block_number=block_number, block_hash=block_hash, logs=ours)


def _start_block() -> int:
    state = SyncState.objects.filter(pk=1).first()
    return state.start_block if state is not None else settings.AJO_START_BLOCK


def _canonical_header(client: RpcClient, receipt: _Receipt) -> dict:
    """The node's header at the receipt's height, if the receipt's block is that block and
    is SYNC_CONFIRMATIONS deep."""
    number = receipt.block_number
    confirmations = settings.SYNC_CONFIRMATIONS
    head = client.block_number()
    if number > head - confirmations:
        ready = number + confirmations
        raise TxNotConfirmed(
            f"block {number} has {max(head - number, 0)} of the {confirmations} confirmations "
            f"this index waits for: the transaction can be ingested from block {ready} on "
            f"(the chain is at block {head})"
        )
    header = client.call("eth_getBlockByNumber", [hex(number), False])
    if header is None:
        raise BlockUnavailable(
            f"the node has no block {number} for this receipt (it is lagging or reorganising): "
            f"try again shortly"
        )
    if not isinstance(header, dict) or not isinstance(header.get("hash"), str):
        raise ChainAnswerInvalid(f"the node's header of block {number} is malformed")
    try:
        int(header["timestamp"], 16)
    except (KeyError, TypeError, ValueError):
        raise ChainAnswerInvalid(f"the node's header of block {number} is malformed") from None
    if header["hash"].lower() != receipt.block_hash:
        raise TxNotCanonical(
            f"the receipt is from block {number} {receipt.block_hash}, but the chain's block "
            f"{number} is {header['hash'].lower()}: the chain reorganised; try again shortly"
        )
    return header


def _is_indexed(state: SyncState | None, block_number: int) -> bool:
    return state is not None and state.last_block is not None and block_number <= state.last_block


def _check_index_agrees(state: SyncState, receipt: _Receipt) -> None:
    """The index holds no other block at the receipt's height. Every indexed block with the
    contract's logs has a BlockRecord, so one missing below the checkpoint means the index
    followed a fork where that block had none."""
    number = receipt.block_number
    stored = BlockRecord.objects.filter(number=number).values_list("hash", flat=True).first()
    if stored is None and _is_indexed(state, number):
        stored = state.last_block_hash if number == state.last_block else ""
    if stored is not None and stored.lower() != receipt.block_hash:
        raise TxNotCanonical(
            f"the index holds another block {number} than the chain's {receipt.block_hash}: "
            f"a reorg is pending; the sync reverts it on its next pass, try again after it"
        )
