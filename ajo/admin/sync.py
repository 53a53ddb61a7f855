"""Admin for the sync bookkeeping: the sync state (with the window it cannot apply) and the
indexed blocks."""

from django.contrib import admin
from django.utils.html import format_html

from ajo.admin.base import BrowserAdmin
from ajo.admin.display import address_html, tx_html
from ajo.models import BlockRecord, SyncState


@admin.register(SyncState)
class SyncStateAdmin(BrowserAdmin):
    list_display = [
        "chain_id",
        "contract",
        "last_block",
        "head_block",
        "lag_blocks",
        "head_seen_at",
        "total_events",
        "reorg_count",
        "last_run_finished_at",
        "failing",
    ]
    readonly_fields = ["contract", "failing"]
    export_columns = ["chain_id", "@contract_address", "last_block", "head_block"]

    @admin.display(description="contract", ordering="contract_address")
    def contract(self, obj):
        return address_html(obj.contract_address)

    @admin.display(description="failing window")
    def failing(self, obj):
        """The window the sync cannot apply, in red, until it commits (see sync.run)."""
        if not obj.failure_attempts:
            return "-"
        return format_html(
            '<span class="text-red-600">{}</span><br><span class="text-xs">'
            "{} attempt(s) since {}; next: {}</span>",
            obj.failure,
            obj.failure_attempts,
            obj.failure_since,
            obj.failure_retry_at or "when sync_chain runs again",
        )


@admin.register(BlockRecord)
class BlockRecordAdmin(BrowserAdmin):
    list_display = ["number", "block_hash", "timestamp"]
    sortable_by = ["number"]  # one row per indexed block: the key is the only index
    search_fields = ["number"]
    search_map = {"number": ["number"], "tx": ["hash"]}
    search_help_text = "Block number or block hash"
    export_columns = ["number", "hash", "timestamp"]

    @admin.display(description="hash")
    def block_hash(self, obj):
        return tx_html(obj.hash)
