"""Root URLs: the admin (at ADMIN_URL), the API and the health endpoints."""

from django.conf import settings
from django.contrib import admin
from django.urls import path

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
]
