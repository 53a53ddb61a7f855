"""Routes of the contribution and payout lists, a group's and a wallet's included, mounted
under /api/ by ajo/urls.py."""

from django.urls import path

from contributions.api.views import (
    ContributionListView,
    GroupContributionsView,
    GroupPayoutsView,
    PayoutListView,
    UserContributionsView,
)

urlpatterns = [
    path(
        "groups/<int:group_id>/contributions/",
        GroupContributionsView.as_view(),
        name="api-group-contributions",
    ),
    path("groups/<int:group_id>/payouts/", GroupPayoutsView.as_view(), name="api-group-payouts"),
    path(
        "users/<str:address>/contributions/",
        UserContributionsView.as_view(),
        name="api-user-contributions",
    ),
    path("contributions/", ContributionListView.as_view(), name="api-contributions"),
    path("payouts/", PayoutListView.as_view(), name="api-payouts"),
]
