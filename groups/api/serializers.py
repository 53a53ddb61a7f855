"""Group, member, token and user representations: amounts as strings, addresses checksummed."""

from rest_framework import serializers

from ajo.api.fields import AddressField, Uint64Field, Uint256Field, Uint256TotalField
from ajo.api.representation import FastRepresentationMixin
from groups.models import Group, Membership, Token, User


class TokenSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    address = AddressField()
    decimals = serializers.IntegerField(
        allow_null=True, help_text="Null when the token does not say: amounts are raw units."
    )

    class Meta:
        model = Token
        fields = ["address", "symbol", "name", "decimals"]
        read_only_fields = fields


class GroupSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    """A group as the lists show it."""

    token = TokenSerializer()
    creator = AddressField(source="creator.address")
    contribution_amount = Uint256Field()
    pot = Uint256Field(help_text="contribution_amount * member_count: one round's payout.")
    frequency = Uint64Field(help_text="Seconds per round (a uint64 on chain: a string).")
    next_deadline = serializers.DateTimeField(
        allow_null=True, help_text="Deadline of the current round (active groups)."
    )
    total_contributed = Uint256TotalField()
    total_paid_out = Uint256TotalField()
    created_block = serializers.IntegerField(allow_null=True)
    created_tx = serializers.CharField(allow_blank=True)
    source = serializers.ChoiceField(
        choices=Group.Source.choices,
        help_text="`events`: indexed from contract events; `chain_view`: read from the "
        "contract's view functions ahead of the sync (no per-round payments or totals yet).",
    )

    class Meta:
        model = Group
        fields = [
            "id",
            "name",
            "status",
            "token",
            "creator",
            "contribution_amount",
            "pot",
            "frequency",
            "max_members",
            "member_count",
            "current_round",
            "start_time",
            "next_deadline",
            "paid_this_round",
            "total_contributed",
            "total_paid_out",
            "contribution_count",
            "payout_count",
            "created_block",
            "created_tx",
            "created_at",
            "completed_at",
            "source",
        ]
        read_only_fields = fields


class MembershipSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    """A member's seat: position in the rotation, what they paid, whether they were paid."""

    address = AddressField(source="user.address")
    joined_block = serializers.IntegerField(
        allow_null=True, help_text="Null for a member read from view functions, not yet synced."
    )
    joined_tx = serializers.CharField(allow_blank=True)
    total_contributed = Uint256TotalField()
    received_payout = serializers.BooleanField()
    payout_round = serializers.IntegerField(allow_null=True)
    payout_amount = Uint256Field(allow_null=True)

    class Meta:
        model = Membership
        fields = [
            "position",
            "address",
            "joined_block",
            "joined_tx",
            "joined_at",
            "total_contributed",
            "contribution_count",
            "received_payout",
            "payout_round",
            "payout_amount",
        ]
        read_only_fields = fields


ROUND_STATUSES = [
    ("paid", "paid on time"),
    ("paid_late", "paid after the deadline"),
    ("due", "not paid, deadline not passed"),
    ("overdue", "not paid, deadline passed"),
]


class RotationEntrySerializer(MembershipSerializer):
    is_next = serializers.BooleanField(help_text="Receives the current round's pot.")
    round_status = serializers.ChoiceField(
        choices=ROUND_STATUSES,
        allow_null=True,
        help_text="This member in the current round; null unless the group is active and its "
        "payments are indexed.",
    )

    class Meta(MembershipSerializer.Meta):
        fields = [*MembershipSerializer.Meta.fields, "is_next", "round_status"]
        read_only_fields = fields


class CurrentRoundSerializer(FastRepresentationMixin, serializers.Serializer):
    number = serializers.IntegerField(help_text="1-based; 0 while forming.")
    deadline = serializers.DateTimeField(allow_null=True)
    is_overdue = serializers.BooleanField(help_text="The deadline has passed.")
    payments_indexed = serializers.BooleanField(
        help_text="False for a group read from view functions: who paid is not known yet."
    )
    next_recipient = AddressField(allow_null=True)
    paid = serializers.ListField(child=AddressField())
    unpaid = serializers.ListField(child=AddressField())
    late = serializers.ListField(
        child=AddressField(), help_text="Paid after the deadline, or unpaid past it."
    )


class GroupDetailSerializer(GroupSerializer):
    """A member's screen in one answer: configuration, state, round, rotation, totals."""

    round = CurrentRoundSerializer(help_text="The current round and who has paid in it.")
    rotation = RotationEntrySerializer(many=True, help_text="Members in payout order.")

    class Meta(GroupSerializer.Meta):
        fields = [*GroupSerializer.Meta.fields, "round", "rotation"]
        read_only_fields = fields


class UserSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    address = AddressField()
    total_contributed = Uint256TotalField()
    total_received = Uint256TotalField()
    first_seen_block = serializers.IntegerField(allow_null=True)

    class Meta:
        model = User
        fields = [
            "address",
            "total_contributed",
            "total_received",
            "contribution_count",
            "payout_count",
            "group_count",
            "first_seen_block",
        ]
        read_only_fields = fields


class UserGroupSerializer(MembershipSerializer):
    """One of a user's groups, with the user's seat in it."""

    group = GroupSerializer()

    class Meta(MembershipSerializer.Meta):
        fields = ["group", *MembershipSerializer.Meta.fields]
        read_only_fields = fields
