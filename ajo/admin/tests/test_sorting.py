"""The admin sorts the big tables only the way an index reads them: a sortable column's page is
a plan without a sort step, and a crafted `?o=` for another column sorts nothing."""

import json

import pytest
from django.contrib import admin
from django.db import connection
from django.urls import reverse

from contributions.models import Contribution, Payout
from contributions.tests.factories import ContributionFactory, PayoutFactory
from groups.models import Group, Membership, User
from groups.tests.factories import GroupFactory, MembershipFactory, StaffFactory, UserFactory

BIG_TABLES = [Contribution, Payout, Membership, Group, User]


@pytest.fixture
def admin_client(client, db):
    client.force_login(StaffFactory(is_superuser=True))
    return client


@pytest.fixture
def rows(db):
    for n in range(3):
        group = GroupFactory(status=["forming", "active", "completed"][n])
        user = UserFactory()
        MembershipFactory(group=group, user=user, position=0)
        ContributionFactory(group=group, member=user, round=1, block_number=100 + n)
        PayoutFactory(group=group, recipient=user, round=1, block_number=100 + n)


def changelist(client, model, **params):
    meta = model._meta
    response = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"), params)
    assert response.status_code == 200, response.content[:500]
    return response.context["cl"]


def page_sql(cl) -> tuple[str, list]:
    sql, params = cl.queryset[: cl.list_per_page].query.sql_with_params()
    return sql, list(params)


def sorts_rows(sql: str, params: list) -> str | None:
    """What the database says when it must sort the rows itself for this query, else None."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Forbid what an index would spare: a plan that still needs one is priced at
            # PostgreSQL's disable_cost (1e10) or more.
            for setting in ("enable_seqscan", "enable_sort", "enable_incremental_sort"):
                cursor.execute(f"SET LOCAL {setting} = off")
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            for setting in ("enable_seqscan", "enable_sort", "enable_incremental_sort"):
                cursor.execute(f"RESET {setting}")
            cost = plan[0]["Plan"]["Total Cost"]
            return f"plan cost {cost:.0f}: {json.dumps(plan)[:800]}" if cost >= 1e9 else None
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        details = [row[-1] for row in cursor.fetchall()]
        sorting = [d for d in details if "TEMP B-TREE" in d]
        return f"{sorting} in {details}" if sorting else None


@pytest.mark.django_db
@pytest.mark.parametrize("model", BIG_TABLES, ids=lambda m: m.__name__)
def test_every_sortable_column_is_read_in_index_order(admin_client, rows, model):
    model_admin = admin.site._registry[model]
    sortable = model_admin.sortable_by
    assert sortable, f"{model.__name__}: sortable_by must be set on a big table"
    default = changelist(admin_client, model)
    assert sorts_rows(*page_sql(default)) is None
    for name in sortable:
        index = default.list_display.index(name)  # as the page numbers its columns
        for o in (str(index), f"-{index}"):
            cl = changelist(admin_client, model, o=o)
            order_field = cl.get_ordering_field(name).lstrip("-")
            assert str(cl.queryset.query.order_by[0]).lstrip("-") == order_field
            assert sorts_rows(*page_sql(cl)) is None, (model.__name__, name, o)


@pytest.mark.django_db
@pytest.mark.parametrize("model", BIG_TABLES, ids=lambda m: m.__name__)
def test_a_crafted_sort_on_another_column_sorts_nothing(admin_client, rows, model):
    model_admin = admin.site._registry[model]
    page = changelist(admin_client, model)
    default = list(page.queryset.query.order_by)
    refused = [
        index for index, name in enumerate(page.list_display) if name not in model_admin.sortable_by
    ]
    assert refused
    for index in refused:
        for o in (str(index), f"-{index}", f"{index}.-{index}"):
            cl = changelist(admin_client, model, o=o)
            assert list(cl.queryset.query.order_by) == default, (model.__name__, index, o)
            assert "o" not in cl.get_query_string()  # links do not carry it on
    for garbage in ("x", "999", "-", "--1", "1.x", "1e3", "٣"):
        assert changelist(admin_client, model, o=garbage) is not None


@pytest.mark.django_db
def test_a_sortable_column_after_a_refused_one_still_sorts(admin_client, rows):
    columns = changelist(admin_client, Contribution).list_display
    round_index, block_index = columns.index("round"), columns.index("block_number")
    cl = changelist(admin_client, Contribution, o=f"{round_index}.{block_index}")
    assert list(cl.queryset.query.order_by) == ["block_number", "log_index"]
    assert [c.block_number for c in cl.result_list] == [100, 101, 102]
