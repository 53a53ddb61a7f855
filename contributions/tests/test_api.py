"""Contribution and payout lists: cursor pages by (block_number, log_index), filters, limits."""

import base64

import pytest
from django.core.cache import cache

from ajo.addresses import to_checksum
from ajo.api.cache import VERSION_READS
from contributions.tests.factories import ContributionFactory, PayoutFactory
from groups.models import Group
from groups.tests.factories import GroupFactory, TokenFactory, UserFactory

pytestmark = pytest.mark.django_db

BIG = 2**200 + 1


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


def addr(n: int) -> str:
    return "0x" + f"{n:040x}"


@pytest.fixture
def rows():
    """Two groups; contributions at blocks 10..14 with two in block 12 (log 0 and 3)."""
    token = TokenFactory(address=addr(0x70), symbol="BIG", decimals=None)
    g1 = GroupFactory(id=1, token=token, contribution_amount=BIG)
    g2 = GroupFactory(id=2, token=token, contribution_amount=BIG)
    alice, bob = UserFactory(address=addr(0xA1)), UserFactory(address=addr(0xB2))
    spec = [
        (g1, alice, 1, 10, 0, False),
        (g1, bob, 1, 11, 1, True),
        (g2, alice, 1, 12, 0, False),
        (g1, alice, 2, 12, 3, True),
        (g2, bob, 1, 13, 2, False),
        (g1, bob, 2, 14, 0, False),
    ]
    made = [
        ContributionFactory(
            group=g, member=u, round=r, amount=BIG, block_number=b, log_index=li, is_late=late
        )
        for g, u, r, b, li, late in spec
    ]
    PayoutFactory(group=g1, recipient=alice, round=1, amount=BIG * 2, block_number=11, log_index=2)
    return made, alice, bob


def keys(response):
    assert response.status_code == 200, response.content
    return [(r["block_number"], r["log_index"]) for r in response.json()["results"]]


def test_newest_first_by_block_then_log_index(client, rows):
    assert keys(client.get("/api/contributions/")) == [
        (14, 0),
        (13, 2),
        (12, 3),
        (12, 0),
        (11, 1),
        (10, 0),
    ]
    assert keys(client.get("/api/contributions/?ordering=block_number")) == [
        (10, 0),
        (11, 1),
        (12, 0),
        (12, 3),
        (13, 2),
        (14, 0),
    ]


def test_representation(client, rows):
    _, alice, _ = rows
    row = client.get("/api/contributions/?page_size=1&ordering=block_number").json()["results"][0]
    assert row == {
        "group": 1,
        "group_name": Group.objects.get(id=1).name,
        "token": {
            "address": to_checksum(addr(0x70)),
            "symbol": "BIG",
            "name": "Test USD",
            "decimals": None,
        },
        "member": to_checksum(alice.address),
        "round": 1,
        "amount": str(BIG),
        "is_late": False,
        "block_number": 10,
        "block_time": "2026-01-01T00:00:00Z",
        "tx_hash": row["tx_hash"],
        "log_index": 0,
    }
    assert len(row["tx_hash"]) == 66


def test_cursor_pages_walk_every_row_once_across_a_shared_block(client, rows):
    seen, url, pages = [], "/api/contributions/?page_size=2", 0
    while url:
        response = client.get(url)
        seen += keys(response)
        url = response.json()["next"]
        pages += 1
    assert pages == 3
    assert seen == [(14, 0), (13, 2), (12, 3), (12, 0), (11, 1), (10, 0)]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/contributions/?group=2", [(13, 2), (12, 0)]),
        ("/api/groups/1/contributions/?round=1", [(11, 1), (10, 0)]),
        (f"/api/users/{addr(0xA1)}/contributions/?round=1", [(12, 0), (10, 0)]),
        ("/api/contributions/?late=true", [(12, 3), (11, 1)]),
        ("/api/contributions/?late=false&group=1", [(14, 0), (10, 0)]),
        ("/api/contributions/?from_block=11&to_block=12", [(12, 3), (12, 0), (11, 1)]),
    ],
)
def test_filters(client, rows, path, expected):
    assert keys(client.get(path)) == expected


def test_member_filter(client, rows):
    _, alice, _ = rows
    upper = "0x" + alice.address[2:].upper()
    assert keys(client.get(f"/api/contributions/?member={upper}")) == [(12, 3), (12, 0), (10, 0)]


def _cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("cursor=%21%21", "cursor"),
        (f"cursor={_cursor('p=abc')}", "cursor"),
        (f"cursor={_cursor('o=-5')}", "cursor"),
        (f"cursor={_cursor('p=' + '9' * 30)}", "cursor"),
        ("page_size=-1", "page_size"),
        ("ordering=amount", "ordering"),
        ("group=x", "group"),
        ("group=99999999999999999999", "group"),
        ("round=-1", "round"),
        ("late=maybe", "late"),
        ("from_block=1.5", "from_block"),
        ("member=0xzz", "member"),
    ],
)
def test_bad_input_is_400_naming_the_parameter(client, rows, query, field):
    response = client.get(f"/api/contributions/?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/api/contributions/", "/api/groups/{id}/contributions/?round="),
        ("/api/payouts/", "/api/groups/{id}/payouts/?round="),
    ],
)
def test_round_on_an_unscoped_list_is_400_saying_where_it_belongs(client, rows, path, where):
    """No index serves every group's round n: alone it would read the whole table. Beside a
    group or member it is the scoped lists' parameter (the schema can say that exactly)."""
    for query in ("round=1", "round=1&from_block=1", "round=1&group=1"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert error["message"].startswith("round: filter a round within a group")
        assert where in error["message"]
        assert list(error["details"]) == ["round"]


def test_round_under_one_group_or_member_needs_nothing_more(client, rows):
    assert keys(client.get("/api/groups/1/contributions/?round=2")) == [(14, 0), (12, 3)]
    assert keys(client.get(f"/api/users/{addr(0xB2)}/contributions/?round=1")) == [
        (13, 2),
        (11, 1),
    ]
    assert keys(client.get("/api/groups/1/payouts/?round=1")) == [(11, 2)]


@pytest.mark.parametrize("page_size", [1, 6])
def test_query_count_does_not_grow_with_page_size(
    client, rows, django_assert_num_queries, page_size
):
    with django_assert_num_queries(1 + VERSION_READS):
        response = client.get(f"/api/contributions/?page_size={page_size}&late=false")
    assert len(response.json()["results"]) == min(page_size, 4)


def test_page_size_is_capped(client):
    group, member = GroupFactory(id=1), UserFactory()
    for round_number in range(1, 106):  # a member pays each round once
        ContributionFactory(group=group, member=member, round=round_number)
    assert len(client.get("/api/contributions/?page_size=100").json()["results"]) == 100
    response = client.get("/api/contributions/?page_size=101")
    assert response.status_code == 400  # not quietly 100: the schema says 1 to 100
    assert response.json()["error"]["message"] == (
        "page_size: must be a whole number from 1 to 100 (got '101')"
    )


class TestGroupEvents:
    def test_group_contributions_and_payouts(self, client, rows, django_assert_num_queries):
        with django_assert_num_queries(2 + VERSION_READS):  # group exists, page
            response = client.get("/api/groups/1/contributions/?late=true")
        assert keys(response) == [(12, 3), (11, 1)]
        with django_assert_num_queries(2 + VERSION_READS):
            response = client.get("/api/groups/1/payouts/")
        payout = response.json()["results"][0]
        assert payout["recipient"] == to_checksum(addr(0xA1))
        assert payout["amount"] == str(BIG * 2)
        assert payout["round"] == 1

    def test_unknown_group(self, client):
        for path in ("/api/groups/9/contributions/", "/api/groups/9/payouts/"):
            response = client.get(path)
            assert response.status_code == 404
            assert response.json()["error"]["message"] == "group 9 is not indexed"


def test_payout_list_filters(client, rows):
    response = client.get(f"/api/payouts/?recipient={addr(0xA1)}&from_block=11")
    assert [r["block_number"] for r in response.json()["results"]] == [11]
    assert client.get(f"/api/payouts/?recipient={addr(0xB2)}").json()["results"] == []
