"""Keyset cursors over (block_number, log_index) for every event list, through a dense block."""

import base64
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing

from ajo.api.cache import VERSION_READS
from ajo.api.pagination import _CURSOR_SIGNER
from contributions.models import Contribution, Payout
from contributions.tests.factories import ContributionFactory, PayoutFactory
from groups.tests.factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db

DENSE_BLOCK = 7
DENSE = 5_000  # events in one block: more than DRF's offset cap (1,000) five times over


@pytest.fixture
def dense():
    """5,000 contributions and 5,000 payouts in block 7, a few around it (blocks 6 and 8).

    One group, 50 members x 100 rounds (a member pays a round once); every third
    contribution late, member i % 50.
    """
    group = GroupFactory(id=1)
    members = [UserFactory() for _ in range(50)]
    rows = []
    for index in range(DENSE):
        rows.append(
            ContributionFactory.build(
                group=group,
                member=members[index % 50],
                round=index // 50 + 1,
                block_number=DENSE_BLOCK,
                log_index=index,
                is_late=index % 3 == 0,
            )
        )
    for block, log_index, round_number in [(6, 4, 101), (6, 9, 102), (8, 0, 103)]:
        rows.append(
            ContributionFactory.build(
                group=group,
                member=members[0],
                round=round_number,
                block_number=block,
                log_index=log_index,
            )
        )
    Contribution.objects.bulk_create(rows)
    payouts = [
        PayoutFactory.build(
            group=group,
            recipient=members[index % 50],
            round=index + 1,
            block_number=DENSE_BLOCK,
            log_index=index,
        )
        for index in range(DENSE)
    ]
    Payout.objects.bulk_create(payouts)
    return group, members


def keys_of(model, descending=True, **filters):
    order = ("-block_number", "-log_index") if descending else ("block_number", "log_index")
    rows = model.objects.filter(**filters).order_by(*order)
    return list(rows.values_list("block_number", "log_index"))


def page_keys(response):
    assert response.status_code == 200, response.content
    return [(row["block_number"], row["log_index"]) for row in response.json()["results"]]


def walk(client, url, link, django_assert_num_queries, queries):
    """Follow `link` ("next" or "previous") from `url` to the end.

    (keys per page, the last page's body, the last page's url)."""
    pages = []
    while url:
        with django_assert_num_queries(queries + VERSION_READS):
            response = client.get(url)
        pages.append(page_keys(response))
        body, fetched = response.json(), url
        url = body[link]
    return pages, body, fetched


def cursor_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["cursor"][0]


@pytest.mark.parametrize("ordering", ["-block_number", "block_number"])
def test_next_walks_a_dense_block_row_by_row_in_order(
    client, dense, django_assert_num_queries, ordering
):
    expected = keys_of(Contribution, descending=ordering.startswith("-"))
    pages, last, _ = walk(
        client,
        f"/api/contributions/?page_size=100&ordering={ordering}",
        "next",
        django_assert_num_queries,
        queries=1,  # the page itself: no count, whatever the depth
    )
    seen = [key for page in pages for key in page]
    assert seen == expected  # every row once, in order
    assert len(pages) == 51  # 5,003 rows: 50 full pages and one of 3
    assert [len(page) for page in pages[:-1]] == [100] * 50
    assert last["next"] is None


def test_previous_walks_back_to_the_first_page(client, dense, django_assert_num_queries):
    url = "/api/contributions/?page_size=100"
    forward, _, last_url = walk(client, url, "next", django_assert_num_queries, 1)
    # From the last page back: every page again, the same rows, the first page last.
    backward, first, _ = walk(client, last_url, "previous", django_assert_num_queries, 1)
    assert backward == forward[::-1]
    assert first["previous"] is None
    assert first["next"] is not None


def test_next_after_previous_returns_the_same_page(client, dense):
    first = client.get("/api/contributions/?page_size=40").json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    back = client.get(third["previous"]).json()
    assert back["results"] == second["results"]
    assert client.get(back["next"]).json()["results"] == third["results"]


@pytest.mark.parametrize(
    ("path", "query", "filters"),
    [
        ("/api/contributions/", "late=true", {"is_late": True}),
        (
            "/api/contributions/",
            "late=false&from_block=7",
            {"is_late": False, "block_number__gte": 7},
        ),
        ("/api/groups/1/contributions/", "late=true&round=3", {"is_late": True, "round": 3}),
        ("/api/groups/1/contributions/", "ordering=block_number", {}),
    ],
)
def test_filters_hold_on_every_page(client, dense, django_assert_num_queries, path, query, filters):
    descending = "ordering=block_number" not in query
    queries = 2 if path.startswith("/api/groups/") else 1  # group exists, page
    pages, _, _ = walk(
        client, f"{path}?page_size=97&{query}", "next", django_assert_num_queries, queries
    )
    assert [key for page in pages for key in page] == keys_of(
        Contribution, descending=descending, **filters
    )


def test_a_member_filter_and_a_user_list_page_through_the_block(
    client, dense, django_assert_num_queries
):
    _, members = dense
    member = members[7]
    expected = keys_of(Contribution, member=member)
    assert len(expected) == 100
    for url, queries in [
        (f"/api/contributions/?page_size=30&member={member.address}", 1),
        (f"/api/users/{member.address}/contributions/?page_size=30", 2),  # user, page
    ]:
        pages, _, _ = walk(client, url, "next", django_assert_num_queries, queries)
        assert [key for page in pages for key in page] == expected


@pytest.mark.parametrize("path", ["/api/payouts/", "/api/groups/1/payouts/"])
def test_payout_lists_page_through_the_block(client, dense, django_assert_num_queries, path):
    queries = 2 if path.startswith("/api/groups/") else 1
    pages, _, _ = walk(client, f"{path}?page_size=100", "next", django_assert_num_queries, queries)
    assert [key for page in pages for key in page] == keys_of(Payout)
    assert len(pages) == 50


def test_a_cursor_is_one_opaque_base64url_parameter(client, dense):
    link = client.get("/api/contributions/?page_size=5&late=true").json()["next"]
    query = parse_qs(urlsplit(link).query)
    assert set(query) == {"page_size", "late", "cursor"}  # the filters carry over
    cursor = query["cursor"][0]
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _tampered(cursor: str) -> list[str]:
    """Every single-character edit of a real cursor that is still base64."""
    alphabet = "AQgw"
    return [
        cursor[:i] + next(c for c in alphabet if c != cursor[i]) + cursor[i + 1 :]
        for i in range(len(cursor))
    ]


NO_PAGE = (
    "no page at this cursor: it was not issued by this API (follow the `next` and `previous` links)"
)


def test_an_edited_cursor_is_a_404_never_a_500(client, dense):
    """Shaped like a cursor (the schema's pattern) but not one the API signed: no such page,
    as for a page number past the last."""
    cursor = cursor_of(client.get("/api/contributions/?page_size=5").json()["next"])
    for edited in _tampered(cursor):
        response = client.get(f"/api/contributions/?cursor={edited}")
        assert response.status_code == 404, (edited, response.content)
        assert response.json()["error"]["message"] == NO_PAGE


@pytest.mark.parametrize(
    "cursor",
    [
        "zzz",
        _b64("1:n:d:7:5"),  # the right shape, but not signed by the API
        _b64(signing.Signer(salt="elsewhere").sign("1:n:d:7:5")),  # another signer's
        _b64(
            signing.Signer(key="k" * 50, salt="ajo.api.pagination.EventCursorPagination").sign(
                "1:n:d:7:5"
            )
        ),  # another deployment's
    ],
)
def test_a_cursor_the_api_did_not_issue_is_a_404(client, dense, cursor):
    response = client.get("/api/contributions/", {"cursor": cursor})
    assert response.status_code == 404, response.content
    assert response.json()["error"] == {"code": "not_found", "message": NO_PAGE}


@pytest.mark.parametrize(
    ("cursor", "reason"),
    [
        ("%00", "is not a cursor: base64url characters, at most 200"),
        ("é", "is not a cursor: base64url characters, at most 200"),
        ("A" * 1000, "is not a cursor: base64url characters, at most 200"),
        # signed by the API, but not a position (no such cursor was ever issued)
        (_b64(_CURSOR_SIGNER.sign("1:n:d:-7:5")), "is not a cursor issued by this API"),
        (
            _b64(_CURSOR_SIGNER.sign("1:n:d:" + "9" * 30 + ":0")),
            "is not a cursor issued by this API",
        ),
        (_b64(_CURSOR_SIGNER.sign("2:n:d:7:5")), "is not a cursor issued by this API"),
    ],
)
def test_a_malformed_cursor_is_a_400(client, dense, cursor, reason):
    response = client.get("/api/contributions/", {"cursor": cursor})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["message"] == f"cursor: {reason}"
    assert error["details"] == {"cursor": [reason]}


def test_a_cursor_of_the_other_ordering_is_a_400_that_says_so(client, dense):
    cursor = cursor_of(client.get("/api/contributions/?page_size=5").json()["next"])
    response = client.get(f"/api/contributions/?cursor={cursor}&ordering=block_number")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "cursor: was issued for ordering=-block_number: follow the links of one ordering"
    )


def test_the_schema_documents_the_cursor(client):
    schema = client.get("/api/schema/?format=json").json()
    for path in (
        "/api/contributions/",
        "/api/payouts/",
        "/api/groups/{group_id}/contributions/",
        "/api/groups/{group_id}/payouts/",
        "/api/users/{address}/contributions/",
    ):
        operation = schema["paths"][path]["get"]
        parameters = {p["name"]: p for p in operation["parameters"]}
        assert "Opaque position" in parameters["cursor"]["description"], path
        assert parameters["ordering"]["schema"]["enum"] == ["-block_number", "block_number"]
        page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        component = schema["components"]["schemas"][page.rsplit("/", 1)[1]]
        assert component["required"] == ["next", "previous", "results"]
