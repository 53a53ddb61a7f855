"""Root URLs: the admin (at ADMIN_URL), the API and the health endpoints."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from ajo.api.health import healthz, readyz
from ajo.metrics import metrics_view

urlpatterns = [
    # People who open the bare host land in the admin (the API lives under /api/).
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path(settings.ADMIN_URL, admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("api/", include("ajo.api.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]
