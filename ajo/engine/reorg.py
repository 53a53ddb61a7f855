"""Reorgs: is the checkpoint still on the chain, where is the common ancestor, and the
revert to it. `ReorgHandler` is a mixin of `ajo.engine.loop.Syncer` (it asks the chain for
headers through WindowFetcher.headers and reports through Syncer.report)."""

import logging

from django.db import transaction
from django.utils import timezone

from ajo.engine import metrics
from ajo.engine.checkpoint import rewind_checkpoint
from ajo.models import BlockRecord, SyncState

logger = logging.getLogger("ajo.sync")


class ReorgHandler:
    """Detects and undoes reorgs (mixed into Syncer)."""

    def find_ancestor(self, state: SyncState) -> tuple[int, str]:
        """Highest stored block whose hash the chain still has."""
        candidates = BlockRecord.objects.filter(number__lte=state.last_block).order_by("-number")
        offset = 0
        while True:
            chunk = list(candidates[offset : offset + 64].values_list("number", "hash"))
            if not chunk:
                return state.start_block - 1, ""
            chain = self.headers([number for number, _ in chunk], allow_missing=True)
            for number, stored_hash in chunk:
                if number in chain and chain[number]["hash"] == stored_hash:
                    return number, stored_hash
            offset += 64

    def handle_reorg(self) -> None:
        state = SyncState.objects.get(pk=1)
        ancestor, _ = self.find_ancestor(state)
        depth = state.last_block - ancestor
        logger.warning(
            "reorg: block %s changed; reverting %d blocks to common ancestor %s",
            state.last_block,
            depth,
            ancestor,
        )
        with transaction.atomic():
            state = rewind_checkpoint(to_block=ancestor, run=self.run)
            state.reorg_count += 1
            state.last_reorg_at = timezone.now()
            state.last_reorg_depth = depth
            state.save()
        self.summary.reorgs += 1
        metrics.REORGS.inc()
        self.report(indexed=state.last_block)

    def checkpoint_is_canonical(self, state: SyncState) -> bool:
        if state.last_block is None or not state.last_block_hash:
            return True
        header = self.headers([state.last_block], allow_missing=True).get(state.last_block)
        return header is not None and header["hash"] == state.last_block_hash
