"""Root URLs: the admin (at ADMIN_URL), the API and the health endpoints."""

from django.conf import settings
from django.contrib import admin
from django.urls import path

from ajo.metrics import metrics_view

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
]
