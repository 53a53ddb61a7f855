"""Admin for the sync bookkeeping (read-only)."""

from django.contrib import admin
from unfold.admin import ModelAdmin

from ajo.models import BlockRecord, SyncState


class ReadOnlyAdmin(ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SyncState)
class SyncStateAdmin(ReadOnlyAdmin):
    list_display = [
        "chain_id",
        "contract_address",
        "last_block",
        "head_block",
        "lag_blocks",
        "total_events",
        "reorg_count",
        "last_run_finished_at",
    ]


@admin.register(BlockRecord)
class BlockRecordAdmin(ReadOnlyAdmin):
    list_display = ["number", "hash", "timestamp"]
    search_fields = ["=number", "=hash"]
    show_full_result_count = False
