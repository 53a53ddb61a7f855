"""Contribution and payout rows: where on chain (block, tx, log index), who, how much."""

from rest_framework import serializers

from ajo.api.fields import AddressField, TxHashField, Uint256Field
from ajo.api.representation import FastRepresentationMixin
from contributions.models import Contribution, Payout
from groups.api.serializers import TokenSerializer


class _EventSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    group = serializers.IntegerField(source="group_id", help_text="Group id.")
    group_name = serializers.CharField(source="group.name")
    token = TokenSerializer(source="group.token")
    amount = Uint256Field()
    tx_hash = TxHashField()
    block_number = serializers.IntegerField()


class ContributionSerializer(_EventSerializer):
    member = AddressField(source="member.address")
    is_late = serializers.BooleanField(help_text="Mined after the round's deadline.")

    class Meta:
        model = Contribution
        fields = [
            "group",
            "group_name",
            "token",
            "member",
            "round",
            "amount",
            "is_late",
            "block_number",
            "block_time",
            "tx_hash",
            "log_index",
        ]
        read_only_fields = fields


class PayoutSerializer(_EventSerializer):
    recipient = AddressField(source="recipient.address")

    class Meta:
        model = Payout
        fields = [
            "group",
            "group_name",
            "token",
            "recipient",
            "round",
            "amount",
            "block_number",
            "block_time",
            "tx_hash",
            "log_index",
        ]
        read_only_fields = fields
