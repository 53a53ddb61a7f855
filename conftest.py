"""Shared test fixtures: the anvil node and the deployed contracts (devtools.testing)."""

import pytest

pytest_plugins = ["devtools.testing"]


@pytest.fixture
def admin_roles(django_db_blocker):
    """The viewer, operator and analyst roles. Data migrations create them, but a
    transactional test elsewhere may have flushed the tables since."""
    from importlib import import_module

    from django.apps import apps

    with django_db_blocker.unblock():
        import_module("groups.migrations.0002_admin_roles").create_roles(apps, None)
        import_module("ajo.migrations.0007_analyst_role").create_analyst_role(apps, None)
