"""Contribution and payout lists (cursor-paginated by block): all of them, a group's and a
wallet's. The scoped ones build on groups' scoped list views (the 404s for a group that is not
indexed or an address with no activity)."""

from drf_spectacular.utils import extend_schema

from ajo.api.generics import ListView
from ajo.api.pagination import EventCursorPagination
from contributions.api.filters import (
    ContributionFilter,
    PayoutFilter,
    ScopedContributionFilter,
    ScopedPayoutFilter,
)
from contributions.api.serializers import ContributionSerializer, PayoutSerializer
from contributions.selectors import contribution_list, payout_list
from groups.api.views import ADDRESS, GROUP_ID, GroupScopedListView, UserScopedListView


@extend_schema(tags=["contributions"])
class ContributionListView(ListView):
    """All contributions, newest first by (block_number, log_index)."""

    serializer_class = ContributionSerializer
    filterset_class = ContributionFilter
    pagination_class = EventCursorPagination

    def get_queryset(self):
        return contribution_list()


@extend_schema(tags=["contributions"])
class PayoutListView(ListView):
    """All payouts, newest first by (block_number, log_index)."""

    serializer_class = PayoutSerializer
    filterset_class = PayoutFilter
    pagination_class = EventCursorPagination

    def get_queryset(self):
        return payout_list()


@extend_schema(tags=["groups"], parameters=[GROUP_ID])
class GroupPayoutsView(GroupScopedListView):
    """A group's payouts, newest first."""

    serializer_class = PayoutSerializer
    filterset_class = ScopedPayoutFilter
    pagination_class = EventCursorPagination

    def rows(self, *, group_id: int):
        return payout_list().filter(group_id=group_id)


@extend_schema(tags=["groups"], parameters=[GROUP_ID])
class GroupContributionsView(GroupScopedListView):
    """A group's contributions, newest first by (block_number, log_index)."""

    serializer_class = ContributionSerializer
    filterset_class = ScopedContributionFilter
    pagination_class = EventCursorPagination

    def rows(self, *, group_id: int):
        return contribution_list().filter(group_id=group_id)


@extend_schema(tags=["users"], parameters=[ADDRESS])
class UserContributionsView(UserScopedListView):
    """A wallet's contributions, newest first."""

    serializer_class = ContributionSerializer
    filterset_class = ScopedContributionFilter
    pagination_class = EventCursorPagination

    def rows(self, *, user):
        return contribution_list().filter(member=user)
