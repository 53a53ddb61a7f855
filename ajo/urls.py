"""Root URLs: the admin (at ADMIN_URL), the API and the health endpoints.

The composition root: it mounts each app's API routes and hands groups what it must not
import from contributions (who paid a round, for the group detail).
"""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from ajo.api.health import healthz, readyz
from ajo.metrics import metrics_view
from contributions.selectors import round_payments
from groups.api.urls import group_urls

urlpatterns = [
    # People who open the bare host land in the admin (the API lives under /api/).
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path(settings.ADMIN_URL, admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("api/", include(group_urls(round_payments=round_payments))),
    path("api/", include("contributions.api.urls")),
    # Last under api/: it ends with the JSON 404 for every path the apps do not route.
    path("api/", include("ajo.api.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]
