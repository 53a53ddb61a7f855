"""Contributions into rounds and payouts out of them, one row per contract event.

These are the big tables (one row per event, millions on a busy contract), written only by
the sync and tx ingest, in bulk. Two choices keep those writes cheap:
- An event is keyed by where it sits in the chain, (block number, log index): unique in a
  chain, and the same index serves "newest first". A text (tx hash, log index) key cost a
  third of every insert; tx hash lookups go through a small hash index on PostgreSQL
  (migration 0004). Every index costs each insert, so each one here serves a list that
  needs it; the block-time range filter uses a BRIN index, a few pages for millions of rows.
- The foreign keys to groups and users are not database constraints (`db_constraint=False`):
  a constraint checks every inserted row one by one at commit, about a second per 100,000
  events. The sync writes parents before children in the same transaction and reverts children
  before parents; `verify_chain` reports any row whose group or user is missing. Django still
  follows the relations (joins, admin links, cascading deletes).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from ajo.fields import Uint256Field


def _event_relation(to: str, *, on_delete, related_name: str) -> models.ForeignKey:
    """An event row's link to its group or user: no database constraint, and no index of its
    own (the composite indexes start with it); see the module docstring."""
    return models.ForeignKey(
        to,
        on_delete=on_delete,
        related_name=related_name,
        db_constraint=False,
        db_index=False,
    )


class ChainEvent(models.Model):
    """What every event row carries: its round, amount, and where it sits in the chain."""

    round = models.PositiveIntegerField()
    amount = Uint256Field()
    tx_hash = models.CharField(max_length=66)
    log_index = models.PositiveIntegerField()
    block_number = models.PositiveBigIntegerField()
    block_time = models.DateTimeField()

    class Meta:
        abstract = True
        ordering = ["-block_number", "-log_index"]


class Contribution(ChainEvent):
    group = _event_relation("groups.Group", on_delete=models.CASCADE, related_name="contributions")
    member = _event_relation(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contributions"
    )
    is_late = models.BooleanField(default=False, help_text="Mined after the round's deadline.")

    class Meta(ChainEvent.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["block_number", "log_index"], name="contribution_log_uniq"
            ),
            models.UniqueConstraint(
                fields=["group", "round", "member"], name="contribution_once_per_round"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="contribution_amount_gt_0"),
            models.CheckConstraint(condition=Q(round__gte=1), name="contribution_round_gte_1"),
        ]
        indexes = [
            models.Index(fields=["member", "block_number"], name="contribution_member_idx"),
            # A group's contributions come through contribution_once_per_round (a group has
            # members x rounds of them: sorting them is nothing). block_time has a BRIN index
            # on PostgreSQL (migration 0005): it grows with the block number.
            # "late only" lists in the admin and the API, newest first; partial: ~10% of rows
            models.Index(
                fields=["-block_number", "-log_index"],
                condition=Q(is_late=True),
                name="contribution_late_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} paid round {self.round} of #{self.group_id}"


class Payout(ChainEvent):
    group = _event_relation("groups.Group", on_delete=models.CASCADE, related_name="payouts")
    recipient = _event_relation(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts"
    )

    class Meta(ChainEvent.Meta):
        constraints = [
            models.UniqueConstraint(fields=["block_number", "log_index"], name="payout_log_uniq"),
            models.UniqueConstraint(fields=["group", "round"], name="payout_group_round_uniq"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_gt_0"),
            models.CheckConstraint(condition=Q(round__gte=1), name="payout_round_gte_1"),
        ]
        indexes = [
            models.Index(fields=["recipient", "block_number"], name="payout_recipient_idx"),
        ]

    def __str__(self) -> str:
        return f"round {self.round} of #{self.group_id} to {self.recipient}"
