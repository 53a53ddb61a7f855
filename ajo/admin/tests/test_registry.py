"""Django's autodiscover finds the whole admin in the one `ajo.admin` package."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group as Role
from django.contrib.auth.models import Permission
from django.urls import reverse

from contributions.tests.factories import ContributionFactory
from groups.models import User
from groups.tests.factories import MembershipFactory, StaffFactory


def test_every_table_of_ajo_and_the_apps_has_its_page_from_the_admin_package():
    models = [
        *apps.get_app_config("ajo").get_models(),
        *apps.get_app_config("groups").get_models(),
        *apps.get_app_config("contributions").get_models(),
        *apps.get_app_config("axes").get_models(),
        Role,
        Permission,
    ]
    assert len(models) == 16
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


@pytest.mark.django_db
def test_the_dashboard_counts_exactly_the_tables_it_has_no_statistics_for(client):
    # A fresh table has no statistics on PostgreSQL either: the planner's guess for it would
    # be sized from its pages, so the totals are counted.
    staff = StaffFactory(is_superuser=True)
    members = [MembershipFactory() for _ in range(3)]
    client.force_login(staff)
    context = client.get(reverse("admin:index")).context
    assert context["users_total"] == User.objects.count() > len(members)
    assert context["memberships_total"] == 3


@pytest.mark.django_db
def test_latest_activity_is_newest_first(client):
    client.force_login(StaffFactory(is_superuser=True))
    first = ContributionFactory(block_number=10, round=1)
    ContributionFactory(group=first.group, block_number=11, round=2)
    rows = client.get(reverse("admin:index")).context["contributions"]["rows"]
    assert [row[2] for row in rows] == [2, 1]
