"""Django's autodiscover finds the whole admin in the one `ajo.admin` package."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group as Role
from django.contrib.auth.models import Permission
from django.urls import reverse

from groups.tests.factories import StaffFactory


def test_every_table_of_ajo_and_the_apps_has_its_page_from_the_admin_package():
    models = [
        *apps.get_app_config("ajo").get_models(),
        *apps.get_app_config("groups").get_models(),
        *apps.get_app_config("contributions").get_models(),
        Role,
        Permission,
    ]
    assert len(models) == 10
    for model in models:
        assert model in admin.site._registry, model
        assert type(admin.site._registry[model]).__module__.startswith("ajo.admin."), model


@pytest.mark.django_db
def test_the_sidebar_and_the_dashboard_open(client):
    client.force_login(StaffFactory(is_superuser=True))
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="ajo-dashboard"' in page
    for label in ("Groups", "Memberships", "Contributions", "Payouts", "Tokens", "Sync state"):
        assert label in page
