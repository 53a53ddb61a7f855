"""Users (one per wallet), tokens, groups and memberships: a copy of the chain, plus totals.

Rows here are derived from the contract's events (or, for a group first seen through the
API, from its view functions); the chain is the source of truth and the admin never edits them.
"""

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import F, Q
from django.utils.text import Truncator

from ajo.addresses import to_checksum
from ajo.fields import Uint256Field, Uint256TotalField


class WalletUserManager(UserManager):
    pass


class User(AbstractUser):
    """A wallet (address set) or a staff account (address empty), or both."""

    address = models.CharField(
        max_length=42,
        unique=True,
        null=True,
        blank=True,
        help_text="Wallet address, stored lowercase.",
    )
    total_contributed = Uint256TotalField(default=0)
    total_received = Uint256TotalField(default=0)
    contribution_count = models.PositiveIntegerField(default=0)
    payout_count = models.PositiveIntegerField(default=0)
    group_count = models.PositiveIntegerField(default=0)
    first_seen_block = models.PositiveBigIntegerField(null=True, blank=True)

    objects = WalletUserManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(address__isnull=True) | Q(address__regex=r"^0x[0-9a-f]{40}$"),
                name="user_address_lowercase_hex",
            ),
        ]

    def __str__(self) -> str:
        return self.checksum_address or self.username

    @property
    def checksum_address(self) -> str | None:
        return to_checksum(self.address)


class Token(models.Model):
    """An ERC-20 used by some group; symbol and decimals are read once from the token contract."""

    address = models.CharField(max_length=42, unique=True)
    symbol = models.CharField(max_length=32, blank=True, default="")
    name = models.CharField(max_length=100, blank=True, default="")
    decimals = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Empty when the token does not say: shown in raw units."
    )
    metadata_fetched = models.BooleanField(default=False)
    total_contributed = Uint256TotalField(default=0)
    total_paid_out = Uint256TotalField(default=0)
    contribution_count = models.PositiveBigIntegerField(default=0)
    group_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["symbol", "address"]
        constraints = [
            models.CheckConstraint(
                condition=Q(decimals__isnull=True) | Q(decimals__lte=77),
                name="token_decimals_lte_77",
            ),
        ]

    def __str__(self) -> str:
        return self.symbol or self.checksum_address

    @property
    def checksum_address(self) -> str:
        return to_checksum(self.address)


class Group(models.Model):
    """A savings circle; `id` is the contract's groupId."""

    class Status(models.TextChoices):
        FORMING = "forming", "Forming"
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"

    class Source(models.TextChoices):
        EVENTS = "events", "Indexed from events"
        CHAIN_VIEW = "chain_view", "Read from view functions"

    id = models.PositiveBigIntegerField(primary_key=True, help_text="On-chain group id.")
    # any length: the contract takes any name, and a longer one must not stop the sync
    name = models.TextField()
    # db_index=False: group_token_idx and group_creator_idx below start with these columns
    token = models.ForeignKey(
        Token, on_delete=models.PROTECT, related_name="groups", db_index=False
    )
    creator = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="created_groups", db_index=False
    )
    contribution_amount = Uint256Field()
    # The contract's types are uint64 and uint16, wider than bigint and smallint: an exact
    # unsigned column and integer columns, so no value a user can choose stops the sync.
    frequency = Uint256Field(help_text="Seconds per round (uint64).")
    max_members = models.PositiveIntegerField()
    member_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.FORMING)
    current_round = models.PositiveIntegerField(default=0)
    start_time = models.DateTimeField(null=True, blank=True)
    next_deadline = models.DateTimeField(null=True, blank=True)
    total_contributed = Uint256TotalField(default=0)
    total_paid_out = Uint256TotalField(default=0)
    contribution_count = models.PositiveIntegerField(default=0)
    payout_count = models.PositiveIntegerField(default=0)
    paid_this_round = models.PositiveIntegerField(default=0)
    created_block = models.PositiveBigIntegerField(null=True, blank=True)
    created_tx = models.CharField(max_length=66, blank=True, default="")
    created_log_index = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(null=True, blank=True, help_text="Block time of creation.")
    started_block = models.PositiveBigIntegerField(null=True, blank=True)
    completed_block = models.PositiveBigIntegerField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.EVENTS)
    # A row read from view functions ahead of the sync holds values no event has confirmed:
    # they are as trustworthy as the block they were read at. A reorg below that block
    # reverts them, and once the sync's checkpoint passes it, what no event confirmed goes.
    # Its own column, not created_block: that one says where the GroupCreated event sits.
    read_block = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Block the view functions were read at (empty when events say it all).",
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "id"], name="group_status_idx"),
            models.Index(fields=["token", "id"], name="group_token_idx"),
            models.Index(fields=["creator", "id"], name="group_creator_idx"),
            models.Index(fields=["created_block"], name="group_created_block_idx"),
            # partial: the sync asks for the few rows read from views at every checkpoint
            models.Index(
                fields=["read_block"],
                name="group_read_block_idx",
                condition=Q(read_block__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(max_members__gte=2), name="group_max_members_gte_2"),
            models.CheckConstraint(
                condition=Q(member_count__lte=F("max_members")),
                name="group_member_count_lte_max",
            ),
            models.CheckConstraint(
                condition=Q(current_round__lte=F("max_members")),
                name="group_current_round_lte_max",
            ),
            models.CheckConstraint(condition=Q(frequency__gt=0), name="group_frequency_gt_0"),
            models.CheckConstraint(
                condition=Q(contribution_amount__gt=0), name="group_contribution_amount_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["forming", "active", "completed"]),
                name="group_status_valid",
            ),
        ]

    def __str__(self) -> str:
        # names can be any length (see `name`): links and page titles show the start
        return f"#{self.id} {Truncator(self.name).chars(80)}"

    @property
    def pot(self) -> int:
        return self.contribution_amount * self.member_count


class Membership(models.Model):
    """A user's seat in a group; `position` is the payout order (round = position + 1)."""

    # db_index=False: the unique (group, user) and membership_user_idx start with these
    group = models.ForeignKey(
        Group, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    user = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="memberships", db_index=False
    )
    position = models.PositiveIntegerField()  # uint16 on chain
    joined_block = models.PositiveBigIntegerField(null=True, blank=True)
    joined_tx = models.CharField(max_length=66, blank=True, default="")
    joined_log_index = models.PositiveIntegerField(null=True, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    total_contributed = Uint256TotalField(default=0)
    contribution_count = models.PositiveIntegerField(default=0)
    payout_round = models.PositiveIntegerField(null=True, blank=True)
    payout_amount = Uint256Field(null=True, blank=True)
    # A seat read from getMembers and not yet confirmed by its MemberJoined (see Group).
    read_block = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Block the seat was read at from view functions (empty once its event came).",
    )

    class Meta:
        ordering = ["group_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="membership_group_user_uniq"),
            models.UniqueConstraint(
                fields=["group", "position"], name="membership_group_position_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "group"], name="membership_user_idx"),
            models.Index(fields=["joined_block"], name="membership_joined_block_idx"),
            models.Index(
                fields=["read_block"],
                name="membership_read_block_idx",
                condition=Q(read_block__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in #{self.group_id} (position {self.position})"

    @property
    def received_payout(self) -> bool:
        return self.payout_round is not None
