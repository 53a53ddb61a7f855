"""Ingest one mined transaction now (POST /api/transactions/), through the sync's handlers.

Only the hash comes from the client. The receipt, its logs and the block time are read from
the chain, and only logs emitted by the configured contract are applied. Rows land with their
real block numbers; if they are ahead of the sync's checkpoint, the sync replaces them with
what it reads for those blocks (see SyncState.ahead_block), so a reorg cannot strand them.
"""

import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from ajo.chain import handlers
from ajo.chain.decode import decode_logs
from ajo.chain.rpc import RpcClient
from ajo.chain.sync import contract_address, ensure_state
from ajo.models import SyncState

TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


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


@dataclass
class IngestResult:
    tx_hash: str
    block_number: int
    events: dict[str, int] = field(default_factory=dict)
    applied: int = 0


def ingest_transaction(*, tx_hash: str, client: RpcClient | None = None) -> IngestResult:
    if not isinstance(tx_hash, str) or not TX_HASH.match(tx_hash.strip()):
        raise InvalidTxHash("tx_hash must be 0x followed by 64 hex digits")
    tx_hash = tx_hash.strip().lower()
    contract = contract_address()
    client = client or RpcClient(settings.CHAIN_RPC_URL)

    receipt = client.call("eth_getTransactionReceipt", [tx_hash])
    if receipt is None:
        if client.call("eth_getTransactionByHash", [tx_hash]) is None:
            raise TxNotFound(f"transaction {tx_hash} is not known to the chain")
        raise TxPending(f"transaction {tx_hash} is not mined yet: try again after its block")
    block_number = int(receipt["blockNumber"], 16)
    if int(receipt.get("status", "0x1"), 16) == 0:
        raise NoContractLogs(f"transaction {tx_hash} reverted: it changed nothing")
    ours = [
        log
        for log in receipt.get("logs") or []
        if (log.get("address") or "").lower() == contract and not log.get("removed")
    ]
    if not ours:
        raise NoContractLogs(f"transaction {tx_hash} emitted no events of the Ajo contract")
    block = client.call("eth_getBlockByNumber", [hex(block_number), False])
    decoded = decode_logs(ours, {block_number: int(block["timestamp"], 16)})
    _ensure_groups_known(decoded)

    chain_id = client.chain_id()
    with transaction.atomic():
        ensure_state(chain_id=chain_id, contract=contract, start_block=settings.AJO_START_BLOCK)
        state = SyncState.objects.select_for_update().get(pk=1)
        applied = handlers.apply_events(decoded)
        # A transaction's rows land together (here, or in the sync's window for its block):
        # all new or none. New ones are rolled up now, unless the sync's next roll-up
        # covers their block already.
        if any(applied.values()) and not state.rolls_up_later(block_number):
            handlers.roll_up(
                after_block=block_number - 1, through_block=block_number, tx_hash=tx_hash
            )
        if state.last_block is None or block_number > state.last_block:
            state.ahead_block = max(state.ahead_block or 0, block_number)
            state.save(update_fields=["ahead_block", "updated_at"])
    counts = {name: len(events) for name, events in decoded.items() if events}
    return IngestResult(
        tx_hash=tx_hash,
        block_number=block_number,
        events=counts,
        applied=sum(applied.values()),
    )


def _ensure_groups_known(decoded) -> None:
    """Events about a group created in an earlier, not yet indexed block need the group row:
    read it from the view functions first, as a cache-first API read would."""
    from groups.models import Group
    from groups.services import group_refresh_from_chain

    created = {event.group_id for event in decoded.get("GroupCreated", [])}
    referenced = {event.group_id for events in decoded.values() for event in events} - created
    known = set(Group.objects.filter(id__in=referenced).values_list("id", flat=True))
    for group_id in sorted(referenced - known):
        group_refresh_from_chain(group_id=group_id)
