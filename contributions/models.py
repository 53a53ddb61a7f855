"""Contributions into rounds and payouts out of them, one row per contract event."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from ajo.fields import Uint256Field


class Contribution(models.Model):
    group = models.ForeignKey(
        "groups.Group", on_delete=models.CASCADE, related_name="contributions"
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contributions"
    )
    round = models.PositiveIntegerField()
    amount = Uint256Field()
    tx_hash = models.CharField(max_length=66)
    log_index = models.PositiveIntegerField()
    block_number = models.PositiveBigIntegerField()
    block_time = models.DateTimeField()
    is_late = models.BooleanField(default=False, help_text="Mined after the round's deadline.")

    class Meta:
        ordering = ["-block_number", "-log_index"]
        constraints = [
            models.UniqueConstraint(fields=["tx_hash", "log_index"], name="contribution_log_uniq"),
            models.UniqueConstraint(
                fields=["group", "round", "member"], name="contribution_once_per_round"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="contribution_amount_gt_0"),
            models.CheckConstraint(condition=Q(round__gte=1), name="contribution_round_gte_1"),
        ]
        indexes = [
            models.Index(fields=["block_number", "log_index"], name="contribution_block_idx"),
            models.Index(fields=["member", "block_number"], name="contribution_member_idx"),
            models.Index(fields=["group", "block_number"], name="contribution_group_block_idx"),
            models.Index(fields=["block_time"], name="contribution_time_idx"),
            # "late only" lists in the admin and the API, newest first; partial: ~10% of rows
            models.Index(
                fields=["-block_number", "-log_index"],
                condition=Q(is_late=True),
                name="contribution_late_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} paid round {self.round} of #{self.group_id}"


class Payout(models.Model):
    group = models.ForeignKey("groups.Group", on_delete=models.CASCADE, related_name="payouts")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts"
    )
    round = models.PositiveIntegerField()
    amount = Uint256Field()
    tx_hash = models.CharField(max_length=66)
    log_index = models.PositiveIntegerField()
    block_number = models.PositiveBigIntegerField()
    block_time = models.DateTimeField()

    class Meta:
        ordering = ["-block_number", "-log_index"]
        constraints = [
            models.UniqueConstraint(fields=["tx_hash", "log_index"], name="payout_log_uniq"),
            models.UniqueConstraint(fields=["group", "round"], name="payout_group_round_uniq"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_gt_0"),
            models.CheckConstraint(condition=Q(round__gte=1), name="payout_round_gte_1"),
        ]
        indexes = [
            models.Index(fields=["block_number", "log_index"], name="payout_block_idx"),
            models.Index(fields=["recipient", "block_number"], name="payout_recipient_idx"),
        ]

    def __str__(self) -> str:
        return f"round {self.round} of #{self.group_id} to {self.recipient}"
