"""DATABASE_REPLICA_URL: API reads go to the replica, writes, sync and admin stay on the primary.

The replica alias exists only when DATABASE_REPLICA_URL is set, so the mirror tests below run
in a child pytest with it set (TEST: MIRROR makes the replica the test database's mirror);
`test_replica_suite_passes_with_a_replica_configured` is the driver and fails if they fail.
"""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connections
from django.test.utils import CaptureQueriesContext

from ajo.routers import ReplicaRouter, replica_reads
from groups.models import Group

HAS_REPLICA = "replica" in settings.DATABASES
needs_replica = pytest.mark.skipif(
    not HAS_REPLICA,
    reason="runs in the child pytest of test_replica_suite_passes_with_a_replica_configured",
)


def test_router_sends_only_api_reads_to_the_replica(settings):
    settings.DATABASES = {**settings.DATABASES, "replica": settings.DATABASES["default"]}
    router = ReplicaRouter()
    assert router.db_for_read(Group) == "default"
    with replica_reads():
        assert router.db_for_read(Group) == "replica"
        assert router.db_for_write(Group) == "default"
    assert router.allow_migrate("default", "groups") is True
    assert router.allow_migrate("replica", "groups") is False


def test_replica_suite_passes_with_a_replica_configured():
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        # Its own database name: the child's test database must not be this run's.
        url = f"{url}_replica"
    else:
        url = f"sqlite:///{settings.BASE_DIR / 'db.sqlite3'}"  # the child tests on its own file
    env = {**os.environ, "DATABASE_URL": url, "DATABASE_REPLICA_URL": url}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k", "mirror_"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    # The child really ran them: none skipped.
    assert "4 passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-2000:]


@needs_replica
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_mirror_api_get_reads_from_the_replica(client):
    assert settings.DATABASE_ROUTERS == ["ajo.routers.ReplicaRouter"]
    with (
        CaptureQueriesContext(connections["replica"]) as replica,
        CaptureQueriesContext(connections["default"]) as primary,
    ):
        response = client.get("/api/groups/")
    assert response.status_code == 200
    assert any("groups_group" in q["sql"] for q in replica.captured_queries)
    assert not any("groups_group" in q["sql"] for q in primary.captured_queries)


@needs_replica
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_mirror_writes_and_non_api_reads_use_the_primary():
    with CaptureQueriesContext(connections["replica"]) as replica:
        assert Group.objects.all().db == "default"
        assert list(Group.objects.all()) == []
    assert replica.captured_queries == []
    with replica_reads():
        assert Group.objects.all().db == "replica"


@needs_replica
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_mirror_migrations_run_on_the_primary_only():
    from django.db import router

    assert router.allow_migrate("default", "groups", model_name="group") is True
    assert router.allow_migrate("replica", "groups", model_name="group") is False
    assert settings.DATABASES["replica"]["TEST"]["MIRROR"] == "default"


@needs_replica
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_mirror_the_sql_console_reads_the_replica():
    from ajo.admin.console import sql_run
    from ajo.models import SqlRun
    from groups.tests.factories import GroupFactory, StaffFactory

    group = GroupFactory(name="on the replica")
    result = sql_run(
        user=StaffFactory(), sql=f"SELECT name FROM groups_group WHERE id = {group.id}"
    )
    assert result.error == "" and result.rows == [["on the replica"]]
    assert result.database == "replica"
    assert SqlRun.objects.using("default").get().database == "replica"  # history on the primary
