"""Root URLs: the admin (at ADMIN_URL), the API and the health endpoints."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from ajo.api.health import healthz, readyz
from ajo.metrics import metrics_view

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("api/", include("ajo.api.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]
