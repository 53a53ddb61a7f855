"""manage.py demo_admin: the demo's operator login."""

import pytest
from django.core.management import call_command

from groups.models import User


@pytest.fixture(autouse=True)
def _roles(admin_roles):
    pass


@pytest.mark.django_db
def test_demo_admin_creates_and_resets_an_operator(capsys):
    call_command("demo_admin", "--password", "first-pass-123")
    user = User.objects.get(username="operator")
    assert user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == ["operator"]
    assert user.check_password("first-pass-123")
    call_command("demo_admin")
    out = capsys.readouterr().out.strip().splitlines()[-1]
    password = out.split("password=")[1]
    user.refresh_from_db()
    assert password != "first-pass-123" and user.check_password(password)
    assert User.objects.filter(username="operator").count() == 1
