"""The filter backend (no FilterSet without its parameters, one form class per FilterSet) and
the index behind the name search."""

import django_filters
import pytest
from django.db import connection

from ajo.api.filters import FilterSet, _parameter_names
from contributions.api.filters import ContributionFilter
from groups.api.filters import GroupFilter
from groups.models import Group
from groups.tests.factories import GroupFactory

pytestmark = pytest.mark.django_db


def test_a_filterset_is_skipped_only_without_any_of_its_parameters():
    assert _parameter_names(GroupFilter) == {
        "status",
        "token",
        "creator",
        "member",
        "search",
        "ordering",
    }
    assert "late" in _parameter_names(ContributionFilter)


def test_a_filter_reading_several_parameters_keeps_the_filterset_built():
    class ByBlocks(FilterSet):
        created = django_filters.RangeFilter(field_name="created_block")

        class Meta:
            model = Group
            fields = ["created"]

    assert _parameter_names(ByBlocks) is None


def test_a_shared_form_class_still_judges_each_request_alone(client):
    GroupFactory(name="Lagos ladies", status=Group.Status.ACTIVE)
    GroupFactory(name="Accra", status=Group.Status.FORMING)
    assert client.get("/api/groups/?status=nonsense").status_code == 400
    assert [g["name"] for g in client.get("/api/groups/?status=active").json()["results"]] == [
        "Lagos ladies"
    ]
    assert client.get("/api/groups/?search=accra").json()["count"] == 1
    assert client.get("/api/groups/?unrelated=1").json()["count"] == 2
    assert client.get("/api/groups/?status=nonsense").status_code == 400


def test_name_search_is_served_by_the_trigram_index_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the trigram index is PostgreSQL only")
    # Unordered, as the page count asks: an ordered query may walk the primary key instead.
    search = GroupFilter({"search": "lagos"}, queryset=Group.objects.all()).qs.order_by()
    sql, params = search.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test table is too small to need it
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "group_name_trgm" in plan  # the index expression is the one icontains writes
