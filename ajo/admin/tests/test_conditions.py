"""The filter builder: every operator on the column types the tables have, AND/OR groups, the
URL as the state, messages beside a bad value (never a 500), and the time limit of a filter no
index serves."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.http import urlencode

from ajo.admin import conditions
from ajo.admin.viewerzone import COOKIE
from contributions.models import Contribution
from contributions.tests.factories import ContributionFactory
from groups.models import Group
from groups.tests.factories import GroupFactory, StaffFactory, TokenFactory, UserFactory

LIST = "/admin/contributions/contribution/"
GROUPS = "/admin/groups/group/"
BIG = 2**255 + 12345  # far above 2**64: compared exactly or not at all


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


@pytest.fixture
def rows(db):
    token = TokenFactory(symbol="USDC", decimals=6)
    lagos = GroupFactory(name="Lagos market", token=token, contribution_amount=100, status="active")
    accra = GroupFactory(
        name="Accra traders", token=token, contribution_amount=BIG, status="forming"
    )
    alice = UserFactory(address="0x" + "ab" * 20)
    bob = UserFactory(address="0x" + "cd" * 20)
    return {
        "lagos": lagos,
        "accra": accra,
        "alice": alice,
        "bob": bob,
        "small": ContributionFactory(
            group=lagos,
            member=alice,
            round=1,
            amount=100,
            block_number=100,
            block_time=datetime(2026, 1, 5, 22, 30, tzinfo=UTC),
        ),
        "late": ContributionFactory(
            group=lagos,
            member=bob,
            round=1,
            amount=100,
            block_number=200,
            is_late=True,
            block_time=datetime(2026, 1, 5, 23, 30, tzinfo=UTC),
        ),
        "big": ContributionFactory(
            group=accra,
            member=bob,
            round=1,
            amount=BIG,
            block_number=300,
            block_time=datetime(2026, 1, 7, 12, 0, tzinfo=UTC),
        ),
        "bigger": ContributionFactory(
            group=accra,
            member=alice,
            round=1,
            amount=BIG + 1,
            block_number=400,
            block_time=datetime(2026, 1, 8, 12, 0, tzinfo=UTC),
        ),
    }


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content.decode()[:2000]
    return sorted(obj.id for obj in response.context["cl"].result_list)


def q(*conds, **extra):
    params = [("f1", c) for c in conds] + list(extra.items())
    return "?" + urlencode(params)


@pytest.mark.django_db
def test_uint256_compares_exactly_past_2_to_the_64(admin_client, rows):
    get = lambda *c: ids(admin_client.get(LIST + q(*c)))  # noqa: E731
    assert get(f"amount:eq:{BIG}") == [rows["big"].id]
    assert get(f"amount:gt:{BIG}") == [rows["bigger"].id]
    assert get(f"amount:ge:{BIG}") == [rows["big"].id, rows["bigger"].id]
    assert get(f"amount:lt:{BIG}") == [rows["small"].id, rows["late"].id]
    assert get(f"amount:le:{BIG}") == sorted(
        r.id for r in (rows["small"], rows["late"], rows["big"])
    )
    assert get(f"amount:ne:{BIG}") == sorted(
        r.id for r in (rows["small"], rows["late"], rows["bigger"])
    )
    assert get(f"amount:between:{BIG + 1}..{2**256 - 1}") == [rows["bigger"].id]
    assert get(f"amount:in:{BIG}, 100") == sorted(
        r.id for r in (rows["small"], rows["late"], rows["big"])
    )


@pytest.mark.django_db
def test_addresses_match_in_any_case_and_by_prefix(admin_client, rows):
    alice = rows["alice"]
    mixed = alice.checksum_address
    for value in (mixed, mixed.lower(), mixed.upper().replace("0X", "0x")):
        assert ids(admin_client.get(LIST + q(f"member__address:eq:{value}"))) == [
            rows["small"].id,
            rows["bigger"].id,
        ]
    assert ids(admin_client.get(LIST + q("member__address:startswith:0xABAB"))) == [
        rows["small"].id,
        rows["bigger"].id,
    ]
    both = f"member__address:in:{alice.address},{rows['bob'].checksum_address}"
    assert len(ids(admin_client.get(LIST + q(both)))) == 4


@pytest.mark.django_db
def test_booleans_ints_text_choices_and_nulls(admin_client, rows):
    assert ids(admin_client.get(LIST + q("is_late:eq:true"))) == [rows["late"].id]
    assert ids(admin_client.get(LIST + q("block_number:between:150..350"))) == [
        rows["late"].id,
        rows["big"].id,
    ]
    assert ids(admin_client.get(LIST + q(f"group:eq:{rows['accra'].id}"))) == [
        rows["big"].id,
        rows["bigger"].id,
    ]
    lagos, accra = rows["lagos"].id, rows["accra"].id
    assert ids(admin_client.get(GROUPS + q("name:contains:MARKET"))) == [lagos]
    assert ids(admin_client.get(GROUPS + q("name:startswith:accra"))) == [accra]
    assert ids(admin_client.get(GROUPS + q("status:in:active,forming"))) == sorted([lagos, accra])
    assert ids(admin_client.get(GROUPS + q("status:ne:active"))) == [accra]
    Group.objects.filter(pk=lagos).update(start_time=datetime(2026, 1, 1, tzinfo=UTC))
    assert ids(admin_client.get(GROUPS + q("start_time:null:"))) == [accra]
    assert ids(admin_client.get(GROUPS + q("start_time:notnull:"))) == [lagos]


@pytest.mark.django_db
def test_and_or_groups(admin_client, rows):
    late_or_big = "?" + urlencode(
        [("f1", "is_late:eq:true"), ("f1", f"amount:eq:{BIG}"), ("fj1", "or")]
    )
    assert ids(admin_client.get(LIST + late_or_big)) == [rows["late"].id, rows["big"].id]
    # (alice AND round 1) OR (bob AND late)
    two_groups = "?" + urlencode(
        [
            ("f1", f"member__address:eq:{rows['alice'].address}"),
            ("f1", "block_number:lt:150"),
            ("f2", f"member__address:eq:{rows['bob'].address}"),
            ("f2", "is_late:eq:true"),
            ("fj", "or"),
        ]
    )
    assert ids(admin_client.get(LIST + two_groups)) == [rows["small"].id, rows["late"].id]
    both = "?" + urlencode([("f1", "is_late:eq:true"), ("f2", f"amount:eq:{BIG}")])
    assert ids(admin_client.get(LIST + both)) == []


@pytest.mark.django_db
def test_times_are_read_in_the_viewers_zone(admin_client, rows):
    # In UTC both were paid on the 5th; in Lagos (UTC+1) 23:30 UTC is already the 6th.
    assert ids(admin_client.get(LIST + q("block_time:eq:2026-01-05"))) == [
        rows["small"].id,
        rows["late"].id,
    ]
    admin_client.cookies[COOKIE] = "Africa/Lagos"
    response = admin_client.get(LIST + q("block_time:eq:2026-01-06"))
    assert ids(response) == [rows["late"].id]
    assert ids(admin_client.get(LIST + q("block_time:eq:2026-01-05"))) == [rows["small"].id]
    assert "Times in Africa/Lagos" in response.content.decode()
    after = admin_client.get(LIST + q("block_time:ge:2026-01-05T23:45"))  # 22:45 UTC
    assert ids(after) == [rows["late"].id, rows["big"].id, rows["bigger"].id]
    admin_client.cookies[COOKIE] = "Not/AZone"  # ignored: UTC
    assert ids(admin_client.get(LIST + q("block_time:eq:2026-01-06"))) == []
    assert "Times in UTC" in admin_client.get(LIST).content.decode()


@pytest.mark.django_db
def test_the_url_is_the_state_and_paging_links_keep_it(admin_client, rows):
    url = LIST + q("is_late:eq:false", f"amount:lt:{BIG}")
    response = admin_client.get(url)
    cl = response.context["cl"]
    assert cl.filter.params() == [("f1", "is_late:eq:false"), ("f1", f"amount:lt:{BIG}")]
    assert "f1=is_late%3Aeq%3Afalse" in cl.page_url(2)
    assert f"amount%3Alt%3A{BIG}" in response.context["export_url"]
    export = admin_client.get(response.context["export_url"])
    lines = b"".join(export.streaming_content).decode().strip().splitlines()
    assert len(lines) == 2  # the header and the one small on-time contribution


BAD = [
    ("amount:eq:12x", "must be a string of decimal digits"),
    (f"amount:eq:{2**256}", "cannot exceed 2**256-1"),
    ("amount:between:5", "between needs two values"),
    ("amount:between:9..5", "the first value is above the second"),
    ("amount:contains:1", "does not apply to this column"),
    ("round:eq:99999999999", "cannot exceed"),
    ("block_number:eq:-1", "is not a whole number"),
    ("member__address:eq:0x123", "is not an address"),
    ("is_late:eq:maybe", "is not true or false"),
    ("block_time:lt:yesterday", "is not a date or time"),
    ("nosuch:eq:1", "this list has no column"),
    ("amount:in:", "give one or more values"),
    ("tx_hash:eq:zz", "is not a hex value"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("condition", "message"), BAD, ids=[b[0][:20] for b in BAD])
def test_a_bad_value_is_a_message_beside_its_condition(admin_client, rows, condition, message):
    response = admin_client.get(LIST + q(condition))
    assert response.status_code == 400
    page = response.content.decode()
    assert "ajo-field-error" in page and message in page
    assert response.context["cl"].result_list == []
    fragment = admin_client.get(
        LIST + q(condition), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="ajo-results"
    )
    assert fragment.status_code == 400 and message in fragment.content.decode()


@pytest.mark.django_db
def test_garbage_parameters_never_fail(admin_client, rows):
    for params in (
        [("f1", "")],
        [("f1", ":::")],
        [("f9", "amount:eq:1")],
        [("fj", "xor"), ("f1", "amount:eq:1")],
        [("f1", "amount:eq:1")] * 40,
        [("f1", "amount:in:" + ",".join(["1"] * 600))],
        [("f1", "member__address:contains:" + "a" * 500)],
        [("cols", "nosuch,,id")],
        [("view", "abc")],
    ):
        response = admin_client.get(LIST + "?" + urlencode(params))
        assert response.status_code in (200, 400), params


@pytest.mark.django_db
def test_conditions_know_which_index_serves_them(rows):
    columns = {c.key: c for c in conditions.model_columns(Contribution)}
    assert columns["block_number"].served("between")
    assert columns["group"].served("eq")
    assert columns["member"].served("in")
    assert not columns["round"].served("eq")  # only as part of (group, round, member)
    assert not columns["amount"].served("gt")
    assert not columns["tx_hash"].served("contains")


@pytest.fixture
def many_rows(db):
    """Enough contributions that reading all of them takes longer than the tiny limit below."""
    n = 60_000
    group, member = GroupFactory(), UserFactory()  # the list joins both
    with connection.cursor() as cursor:
        # the amount as each database stores a uint256 (ajo/fields.py)
        padded = (
            "CAST(g AS numeric)" if connection.vendor == "postgresql" else "printf('%%078d', g)"
        )
        if connection.vendor == "postgresql":
            source = f"SELECT g FROM generate_series(1, {n}) AS g"
        else:
            source = (
                f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) "
                "SELECT g FROM s"
            )
        cursor.execute(
            "INSERT INTO contributions_contribution (group_id, member_id, round, amount, tx_hash,"
            " log_index, block_number, block_time, is_late) "
            f"SELECT %s, %s, g, {padded}, '0x' || CAST(g AS text), 0, 10000 + g, %s, false "
            f"FROM ({source}) AS t",
            [group.pk, member.pk, datetime(2026, 1, 1, tzinfo=UTC)],
        )
    return n


@pytest.mark.django_db
def test_a_filter_no_index_serves_stops_at_the_time_limit_and_says_so(
    admin_client, many_rows, settings
):
    settings.ADMIN_FILTER_TIMEOUT = 0.000_001
    response = admin_client.get(LIST + q("tx_hash:contains:99999"))
    assert response.status_code == 200
    cl = response.context["cl"]
    assert cl.timeout is not None and cl.result_list == []
    page = response.content.decode()
    assert 'id="ajo-timeout"' in page and "no index serves" in page
    assert "no index" in page  # the hint beside the condition
    # An indexed condition on the same table is not limited.
    indexed = admin_client.get(LIST + q("block_number:between:10001..10010"))
    assert indexed.context["cl"].timeout is None
    assert len(indexed.context["cl"].result_list) == 10
    settings.ADMIN_FILTER_TIMEOUT = 30
    slow_but_allowed = admin_client.get(LIST + q("tx_hash:contains:0x5999"))
    assert slow_but_allowed.context["cl"].timeout is None
    assert len(slow_but_allowed.context["cl"].result_list) == 11  # 5999, 59990..59999


@pytest.mark.django_db
def test_builder_query_counts_are_pinned(admin_client, rows, django_assert_num_queries):
    fragment = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "ajo-results"}
    url = LIST + q(f"member__address:eq:{rows['alice'].address}", "block_number:lt:1000")
    admin_client.get(url)
    # session, user, token choices, bounded count, page rows (a partial draws no round choices)
    with django_assert_num_queries(5):
        assert admin_client.get(url, **fragment).status_code == 200
    unindexed = LIST + q("round:eq:1")
    admin_client.get(unindexed)
    # ... and on PostgreSQL the SET LOCAL of the time limit, in a transaction of its own (a
    # savepoint and its release here, where the test runs in a transaction)
    with CaptureQueriesContext(connection) as captured:
        admin_client.get(unindexed, **fragment)
    expected = 8 if connection.vendor == "postgresql" else 5
    assert len(captured) == expected, [c["sql"][:80] for c in captured]
