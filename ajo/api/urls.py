"""Routes under /api/. Anything else under /api/ is a JSON 404, like every other API error."""

from django.http import JsonResponse
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from ajo.api.exceptions import error_body
from ajo.api.views import SyncStatusView, TransactionIngestView
from contributions.api.views import ContributionListView, GroupPayoutsView, PayoutListView
from groups.api.views import (
    GroupContributionsView,
    GroupDetailView,
    GroupListView,
    GroupMembersView,
    UserContributionsView,
    UserDetailView,
    UserGroupsView,
)


def not_found(request, rest=""):
    return JsonResponse(
        error_body("not_found", f"no API endpoint at {request.path} (see /api/docs/)"),
        status=404,
    )


urlpatterns = [
    path("groups/", GroupListView.as_view(), name="api-groups"),
    path("groups/<int:group_id>/", GroupDetailView.as_view(), name="api-group"),
    path("groups/<int:group_id>/members/", GroupMembersView.as_view(), name="api-group-members"),
    path(
        "groups/<int:group_id>/contributions/",
        GroupContributionsView.as_view(),
        name="api-group-contributions",
    ),
    path("groups/<int:group_id>/payouts/", GroupPayoutsView.as_view(), name="api-group-payouts"),
    path("users/<str:address>/", UserDetailView.as_view(), name="api-user"),
    path("users/<str:address>/groups/", UserGroupsView.as_view(), name="api-user-groups"),
    path(
        "users/<str:address>/contributions/",
        UserContributionsView.as_view(),
        name="api-user-contributions",
    ),
    path("contributions/", ContributionListView.as_view(), name="api-contributions"),
    path("payouts/", PayoutListView.as_view(), name="api-payouts"),
    path("transactions/", TransactionIngestView.as_view(), name="api-transactions"),
    path("sync/", SyncStatusView.as_view(), name="api-sync"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Any other path under /api/, control characters and newlines included ([\s\S], \Z):
    # a JSON 404, never Django's HTML page.
    re_path(r"^(?P<rest>[\s\S]*)\Z", not_found),
]
