"""Contribution and payout lists (cursor-paginated by block) and a group's payouts."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics

from ajo.api.pagination import EventCursorPagination
from ajo.api.representation import columns
from contributions.api.filters import ContributionFilter, PayoutFilter
from contributions.api.serializers import ContributionSerializer, PayoutSerializer
from contributions.models import Payout
from contributions.selectors import contribution_list, payout_list
from groups.api.views import GROUP_ID, require_group


@extend_schema(tags=["contributions"])
class ContributionListView(generics.ListAPIView):
    """All contributions, newest first by (block_number, log_index)."""

    serializer_class = ContributionSerializer
    filterset_class = ContributionFilter
    pagination_class = EventCursorPagination

    def get_queryset(self):
        return contribution_list().only(*columns(ContributionSerializer))


@extend_schema(tags=["contributions"])
class PayoutListView(generics.ListAPIView):
    """All payouts, newest first by (block_number, log_index)."""

    serializer_class = PayoutSerializer
    filterset_class = PayoutFilter
    pagination_class = EventCursorPagination

    def get_queryset(self):
        return payout_list().only(*columns(PayoutSerializer))


@extend_schema(tags=["groups"], parameters=[GROUP_ID])
class GroupPayoutsView(generics.ListAPIView):
    """A group's payouts, newest first."""

    serializer_class = PayoutSerializer
    filterset_class = PayoutFilter
    pagination_class = EventCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Payout.objects.none()
        require_group(self.kwargs["group_id"])
        return (
            payout_list().filter(group_id=self.kwargs["group_id"]).only(*columns(PayoutSerializer))
        )
