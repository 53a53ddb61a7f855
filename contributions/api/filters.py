"""Filters for contribution and payout lists: group, member, round, block range, late."""

from ajo.api.filters import AddressFilter, FilterSet, IntFilter, StrictBooleanFilter
from contributions.models import Contribution, Payout


class ContributionFilter(FilterSet):
    group = IntFilter(field_name="group_id", help_text="Group id.")
    member = AddressFilter(field_name="member__address", help_text="Member's address.")
    round = IntFilter(field_name="round", help_text="Round number (1-based).")
    from_block = IntFilter(field_name="block_number", lookup_expr="gte", help_text="Lowest block.")
    to_block = IntFilter(field_name="block_number", lookup_expr="lte", help_text="Highest block.")
    late = StrictBooleanFilter(
        field_name="is_late", help_text="Only late (`true`) or on-time (`false`) payments."
    )

    class Meta:
        model = Contribution
        fields = ["group", "member", "round", "from_block", "to_block", "late"]


class PayoutFilter(FilterSet):
    group = IntFilter(field_name="group_id", help_text="Group id.")
    recipient = AddressFilter(field_name="recipient__address", help_text="Recipient's address.")
    round = IntFilter(field_name="round", help_text="Round number (1-based).")
    from_block = IntFilter(field_name="block_number", lookup_expr="gte", help_text="Lowest block.")
    to_block = IntFilter(field_name="block_number", lookup_expr="lte", help_text="Highest block.")

    class Meta:
        model = Payout
        fields = ["group", "recipient", "round", "from_block", "to_block"]
