"""Filters for contribution and payout lists: group, member, round, block range, late."""

from ajo.api.filters import AddressFilter, FilterSet, IntFilter, StrictBooleanFilter
from contributions.models import Contribution, Payout


class ContributionFilter(FilterSet):
    group = IntFilter(field_name="group_id", help_text="Group id.")
    member = AddressFilter(field_name="member__address", help_text="Member's address.")
    from_block = IntFilter(field_name="block_number", lookup_expr="gte", help_text="Lowest block.")
    to_block = IntFilter(field_name="block_number", lookup_expr="lte", help_text="Highest block.")
    late = StrictBooleanFilter(
        field_name="is_late", help_text="Only late (`true`) or on-time (`false`) payments."
    )

    class Meta:
        model = Contribution
        fields = ["group", "member", "from_block", "to_block", "late"]

    # A round alone is every group's round n: no index starts with it (one would cost each
    # of millions of inserts for a list nobody needs), while (group, round, member) and
    # (member, block_number) serve it within a group or a member. The rule "round needs a
    # group or a member" is one no OpenAPI schema can state, so `round` is a parameter of
    # the scoped lists only, where the schema says exactly what is accepted.
    refused = {
        "round": "filter a round within a group or a member: "
        "/api/groups/{id}/contributions/?round= or /api/users/{address}/contributions/?round="
    }


class ScopedContributionFilter(ContributionFilter):
    """Under one group or one member (/api/groups/{id}/…, /api/users/{address}/…) every
    filter is served by that scope's index, a round's too."""

    round = IntFilter(field_name="round", help_text="Round number (1-based).")
    refused = {}

    class Meta(ContributionFilter.Meta):
        fields = [*ContributionFilter.Meta.fields, "round"]


class PayoutFilter(FilterSet):
    group = IntFilter(field_name="group_id", help_text="Group id.")
    recipient = AddressFilter(field_name="recipient__address", help_text="Recipient's address.")
    from_block = IntFilter(field_name="block_number", lookup_expr="gte", help_text="Lowest block.")
    to_block = IntFilter(field_name="block_number", lookup_expr="lte", help_text="Highest block.")

    class Meta:
        model = Payout
        fields = ["group", "recipient", "from_block", "to_block"]

    # As for contributions: (group, round) serves it within a group.
    refused = {"round": "filter a round within a group: /api/groups/{id}/payouts/?round="}


class ScopedPayoutFilter(PayoutFilter):
    """Under one group: its (group, round) index serves every filter."""

    round = IntFilter(field_name="round", help_text="Round number (1-based).")
    refused = {}

    class Meta(PayoutFilter.Meta):
        fields = [*PayoutFilter.Meta.fields, "round"]
