"""The checkpoint and what moves it other than a window: the target check (connect), the
one (chain id, contract) a database belongs to, rewinds (--from-block, --reindex, reorgs),
reverting rows above a block and rolling totals up (see ajo.engine.loop's docstring)."""

import logging

from django.conf import settings
from django.db import transaction

from ajo.addresses import to_checksum
from ajo.engine import registry
from ajo.engine.errors import SyncError, WindowFailed
from ajo.engine.rpc import RpcClient, RpcError, RpcUnavailable, endpoint_label
from ajo.models import BlockRecord, SyncState

logger = logging.getLogger("ajo.sync")


def connect(client: RpcClient | None = None) -> tuple[RpcClient, int, str]:
    """Check the target: reachable node, contract code at the address. Returns (client, chain id,
    contract). Raises SyncError, or the Source's own one-line error without a usable address
    (ajo.contract.deployment.ContractNotConfigured)."""
    contract = registry.source().address()
    client = client or RpcClient(settings.CHAIN_RPC_URL)
    try:
        chain_id = client.chain_id()
        code = client.get_code(contract)
    except RpcUnavailable as exc:
        raise SyncError(f"cannot reach the chain: {exc}") from None
    except RpcError as exc:
        raise SyncError(f"the node at {endpoint_label(client.url)} refused: {exc}") from None
    if not code or code in ("0x", "0x0"):
        raise SyncError(
            f"no contract code at {to_checksum(contract)} on chain {chain_id} "
            f"({endpoint_label(client.url)}): check AJO_CONTRACT_ADDRESS and CHAIN_RPC_URL"
        )
    return client, chain_id, contract


def ensure_state(*, chain_id: int, contract: str, start_block: int) -> SyncState:
    """The database belongs to one (chain id, contract): refuse any other."""
    state = SyncState.objects.filter(pk=1).first()
    if state is None:
        state, _ = SyncState.objects.get_or_create(
            pk=1,
            defaults={
                "chain_id": chain_id,
                "contract_address": contract,
                "start_block": start_block,
            },
        )
    if state.chain_id != chain_id or state.contract_address != contract:
        raise SyncError(
            f"this database indexes chain {state.chain_id} contract "
            f"{to_checksum(state.contract_address)}, not chain {chain_id} contract "
            f"{to_checksum(contract)}: point DATABASE_URL at another database"
        )
    return state


def checkpoint_block() -> int | None:
    state = SyncState.objects.filter(pk=1).first()
    return state.last_block if state else None


def rewind_to(*, state: SyncState, from_block: int, run: registry.Run | None = None) -> None:
    """--from-block: start there. Re-indexes from there when the database is already past it;
    refuses to leave a gap after the checkpoint."""
    if state.last_block is None:
        SyncState.objects.filter(pk=1).update(start_block=from_block)
        return
    if from_block > state.last_block + 1:
        raise SyncError(
            f"--from-block {from_block} would skip blocks {state.last_block + 1}..{from_block - 1} "
            f"(the database is indexed up to block {state.last_block})"
        )
    if from_block < state.start_block:
        raise SyncError(
            f"--from-block {from_block} is before this database's start block "
            f"{state.start_block}: use sync_chain --reindex to rebuild from an earlier block"
        )
    with transaction.atomic():
        rewind_checkpoint(to_block=from_block - 1, run=run)


def reindex(*, run: registry.Run | None = None) -> None:
    """Forget every chain-derived row and the checkpoint; keep the (chain id, contract) guard."""
    with transaction.atomic():
        state = SyncState.objects.filter(pk=1).first()
        if state is None:
            return
        state = rewind_checkpoint(to_block=state.start_block - 1, run=run)
        state.total_events = 0
        state.save()


def roll_up_through(state: SyncState, block_number: int) -> None:
    """Roll the rows of blocks (state.rolled_up_block, block_number] up into the totals (see
    the module docstring). Inside the transaction that saves `state` after."""
    if block_number > state.rolled_up_through:
        registry.roll_up(after_block=state.rolled_up_through, through_block=block_number)
    state.rolled_up_block = block_number


def roll_up_pending() -> None:
    """Roll up what waits between rolled_up_block and the checkpoint, in a transaction of its
    own: after a stop or a crash (one query when nothing waits, as after a full catch-up).
    Raises WindowFailed (event "roll-up") when the database refuses it."""
    state = SyncState.objects.filter(pk=1).first()
    if state is None or state.waiting_roll_up is None:
        return
    after, through = state.waiting_roll_up
    try:
        with transaction.atomic():
            state = SyncState.objects.select_for_update().get(pk=1)
            if state.waiting_roll_up is not None:
                roll_up_through(state, state.last_block)
                state.save(update_fields=["rolled_up_block", "updated_at"])
    except Exception as exc:
        logger.debug("roll-up of blocks %d-%d failed", after + 1, through, exc_info=exc)
        raise WindowFailed(first=after + 1, last=through, event="roll-up", error=exc) from exc


def roll_up_after_error() -> None:
    """roll_up_pending on the way out after another error, which stays the one reported."""
    try:
        roll_up_pending()
    except WindowFailed as failure:
        logger.error("%s", failure)


def revert_rows_above(
    state: SyncState, block_number: int, *, run: registry.Run | None = None
) -> None:
    """Revert every row above `block_number` (state locked), resetting `run`'s state (the
    rows it holds are about to go). Rows up to the checkpoint are rolled up first: the
    rebuild after a revert reads every remaining row, so none may still be waiting for a
    roll-up. Afterwards everything left is rolled up."""
    if state.last_block is not None:
        roll_up_through(state, state.last_block)
    registry.revert_above(block_number, run=run)
    if state.rolled_up_through > block_number:
        state.rolled_up_block = block_number


def rewind_checkpoint(*, to_block: int, run: registry.Run | None = None) -> SyncState:
    """Revert every row from blocks above `to_block` and move the checkpoint back there (to
    "nothing indexed" below the start block). The one way back, for reorgs, --from-block and
    --reindex alike. Call inside a transaction; returns the locked, saved state."""
    state = SyncState.objects.select_for_update().get(pk=1)
    revert_rows_above(state, to_block, run=run)
    BlockRecord.objects.filter(number__gt=to_block).delete()
    # Without a stored hash for that block, the parent check starts with the next window.
    record = BlockRecord.objects.filter(number=to_block).first()
    state.last_block = to_block if to_block >= state.start_block else None
    state.last_block_hash = record.hash if record else ""
    state.last_block_time = record.timestamp if record else None
    state.ahead_block = None  # rows ingested ahead were above `to_block`: reverted too
    state.save()
    return state
