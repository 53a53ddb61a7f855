"""Routes of the group and user endpoints, mounted under /api/ by the composition root
(ajo/urls.py), which also passes what groups must not import: who paid a round."""

from django.urls import URLPattern, path

from groups.api.selectors import RoundPayments
from groups.api.views import (
    GroupDetailView,
    GroupListView,
    GroupMembersView,
    UserDetailView,
    UserGroupsView,
)


def group_urls(*, round_payments: RoundPayments) -> list[URLPattern]:
    return [
        path("groups/", GroupListView.as_view(), name="api-groups"),
        path(
            "groups/<int:group_id>/",
            GroupDetailView.as_view(round_payments=round_payments),
            name="api-group",
        ),
        path(
            "groups/<int:group_id>/members/", GroupMembersView.as_view(), name="api-group-members"
        ),
        path("users/<str:address>/", UserDetailView.as_view(), name="api-user"),
        path("users/<str:address>/groups/", UserGroupsView.as_view(), name="api-user-groups"),
    ]
