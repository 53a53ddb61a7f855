"""Sync bookkeeping (which chain and contract this database mirrors, and how far it got), and
the admin's own records: saved list views and the SQL console's runs."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ajo.addresses import to_checksum


def new_generation() -> int:
    return secrets.randbits(63)


class SyncState(models.Model):
    """One row (pk=1). The checkpoint moves in the same transaction as each batch's rows."""

    chain_id = models.PositiveBigIntegerField()
    contract_address = models.CharField(max_length=42)
    start_block = models.PositiveBigIntegerField(default=0)
    last_block = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Last block fully indexed."
    )
    last_block_hash = models.CharField(max_length=66, blank=True, default="")
    last_block_time = models.DateTimeField(null=True, blank=True)
    head_block = models.PositiveBigIntegerField(null=True, blank=True)
    head_seen_at = models.DateTimeField(null=True, blank=True)
    total_events = models.PositiveBigIntegerField(default=0)
    ahead_block = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Highest block of a transaction ingested through the API ahead of the sync.",
    )
    rolled_up_block = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Membership and user totals count every event up to this block: the sync "
        "rolls them up when it catches up with the chain (at the tip, with every batch).",
    )
    reorg_count = models.PositiveIntegerField(default=0)
    last_reorg_at = models.DateTimeField(null=True, blank=True)
    last_reorg_depth = models.PositiveIntegerField(null=True, blank=True)
    last_run_started_at = models.DateTimeField(null=True, blank=True)
    last_run_finished_at = models.DateTimeField(null=True, blank=True)
    last_run_events = models.PositiveBigIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # A window the sync cannot apply (a handler or the database refuses it): what and where,
    # kept until that window commits. Nothing of it is written meanwhile; the checkpoint stays.
    failure = models.TextField(
        blank=True, default="", help_text="Why the next window cannot be applied (one line)."
    )
    failure_block = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="First block that fails to apply (the window's first block when not found).",
    )
    failure_event = models.CharField(
        max_length=64, blank=True, default="", help_text="Event kind (or step) that fails."
    )
    failure_since = models.DateTimeField(null=True, blank=True)
    failure_attempts = models.PositiveIntegerField(default=0)
    failure_retry_at = models.DateTimeField(
        null=True, blank=True, help_text="When sync_chain --follow tries the window again."
    )
    updated_at = models.DateTimeField(auto_now=True)
    # What the API's answers are keyed by (ajo/api/cache.py): a new random value in the
    # transaction of every write that can change them, so an answer cached under one value is
    # exact for as long as the value stays. Random, not a counter: a database rebuilt from
    # scratch or restored from a backup never meets a value that named other data, in a
    # Redis that outlived it.
    generation = models.PositiveBigIntegerField(
        default=new_generation,
        help_text="Changes with every write that changes the indexed data (a window, a revert, "
        "a roll-up, an ingested transaction, a group read from view functions).",
    )

    class Meta:
        verbose_name = "sync state"
        verbose_name_plural = "sync state"

    def __str__(self) -> str:
        return f"chain {self.chain_id} / {self.checksum_contract} at block {self.last_block}"

    def save(self, *args, **kwargs):
        """Every writer of the index saves this row, locked, in the transaction of its rows:
        each window with its checkpoint, reverts and rewinds, roll-ups, ingested
        transactions. So the generation changes here, in that same transaction, whatever the
        caller saves."""
        if not self._state.adding:
            self.generation = new_generation()
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "generation"}
        super().save(*args, **kwargs)

    @classmethod
    def bump_generation(cls) -> None:
        """For the writers that change what the API shows without saving the checkpoint (a
        group read from view functions, token metadata read after a window): call it in
        their transaction, after their writes."""
        cls.objects.filter(pk=1).update(generation=new_generation())

    @property
    def checksum_contract(self) -> str:
        return to_checksum(self.contract_address)

    @property
    def rolled_up_through(self) -> int:
        """rolled_up_block, with -1 for "nothing rolled up yet"."""
        return -1 if self.rolled_up_block is None else self.rolled_up_block

    @property
    def waiting_roll_up(self) -> tuple[int, int] | None:
        """The blocks (after, through] whose rows wait for the sync's next roll-up: above
        rolled_up_block, up to the checkpoint; None when nothing waits. Rows ingested ahead of
        the checkpoint are rolled up as they land, so they never wait."""
        if self.last_block is None or self.rolled_up_through >= self.last_block:
            return None
        return self.rolled_up_through, self.last_block

    def rolls_up_later(self, block_number: int) -> bool:
        """Rows at this block wait for the sync's next roll-up."""
        waiting = self.waiting_roll_up
        return waiting is not None and waiting[0] < block_number <= waiting[1]

    FAILURE_FIELDS = (
        "failure",
        "failure_block",
        "failure_event",
        "failure_since",
        "failure_attempts",
        "failure_retry_at",
    )

    def clear_failure(self) -> None:
        """The failing window committed (in the transaction that saves this row)."""
        self.failure, self.failure_block, self.failure_event = "", None, ""
        self.failure_since = self.failure_retry_at = None
        self.failure_attempts = 0

    @property
    def lag_blocks(self) -> int | None:
        if self.head_block is None or self.last_block is None:
            return None
        return max(self.head_block - self.last_block, 0)


class BlockRecord(models.Model):
    """Hash of an indexed block that held events or closed a batch: reorg detection walks these."""

    number = models.PositiveBigIntegerField(primary_key=True)
    hash = models.CharField(max_length=66)
    timestamp = models.DateTimeField()

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"block {self.number}"


class SavedView(models.Model):
    """A named admin list: its query string (filters, conditions, search, sort, columns), kept
    for one user or shared with a role. The sidebar lists them under their table."""

    name = models.CharField(max_length=80)
    app_label = models.CharField(max_length=100)
    model_name = models.CharField(max_length=100)
    query = models.TextField(blank=True, default="", help_text="The list's query string.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="saved_views",
    )
    role = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="saved_views"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["app_label", "model_name", "name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(owner__isnull=False) & Q(role__isnull=True))
                | (Q(owner__isnull=True) & Q(role__isnull=False)),
                name="savedview_owner_xor_role",
            ),
            models.UniqueConstraint(
                fields=["owner", "app_label", "model_name", "name"],
                condition=Q(owner__isnull=False),
                name="savedview_owner_name_uniq",
            ),
            models.UniqueConstraint(
                fields=["role", "app_label", "model_name", "name"],
                condition=Q(role__isnull=False),
                name="savedview_role_name_uniq",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SqlRun(models.Model):
    """One statement run (or refused) in the admin's read-only SQL console: the user's history,
    and with the admin log the record of who read what."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sql_runs"
    )
    sql = models.TextField()
    database = models.CharField(max_length=32, default="default")
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    row_count = models.PositiveIntegerField(null=True, blank=True)
    truncated = models.BooleanField(default=False, help_text="More rows than the row cap.")
    as_csv = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="", help_text="Why it was refused or failed.")

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "-id"], name="sqlrun_user_idx")]
        permissions = [("run_sql", "Can run read-only SQL in the admin console")]

    def __str__(self) -> str:
        return f"{self.user} ran {self.sql[:60]}"
