"""The project's own routes under /api/ (transactions, sync, schema, docs), ending with the JSON
404 for any other path: ajo/urls.py mounts the apps' routes before these."""

from django.http import JsonResponse
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from ajo.api.cache import LIVE, cache_policy
from ajo.api.exceptions import error_body
from ajo.api.views import SyncStatusView, TransactionIngestView


def not_found(request, rest=""):
    return JsonResponse(
        error_body("not_found", f"no API endpoint at {request.path} (see /api/docs/)"),
        status=404,
    )


urlpatterns = [
    path("transactions/", TransactionIngestView.as_view(), name="api-transactions"),
    path("sync/", SyncStatusView.as_view(), name="api-sync"),
    # The code's, not the index's: their ETag is a digest of the body.
    path("schema/", cache_policy(LIVE)(SpectacularAPIView.as_view()), name="api-schema"),
    path(
        "docs/",
        cache_policy(LIVE)(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    # Any other path under /api/, control characters and newlines included ([\s\S], \Z):
    # a JSON 404, never Django's HTML page.
    re_path(r"^(?P<rest>[\s\S]*)\Z", not_found),
]
