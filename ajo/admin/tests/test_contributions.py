"""The contributions list as a person uses it: search, filters, amounts, export, query counts."""

import csv
import io

import pytest
from django.urls import reverse

from ajo.addresses import to_checksum
from ajo.admin.paging import EstimatedCountPaginator, seek_slice
from contributions.models import Contribution
from contributions.tests.factories import ContributionFactory
from groups.tests.factories import GroupFactory, StaffFactory, TokenFactory, UserFactory

LIST = "/admin/contributions/contribution/"
BIG = 2**200 + 7  # far above what a float or a 64-bit integer holds


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


@pytest.fixture
def rows(db):
    token = TokenFactory(symbol="USDC", decimals=6)
    group = GroupFactory(token=token, contribution_amount=1_250_500_000)
    alice = UserFactory(address="0x" + "ab" * 20)
    bob = UserFactory()
    first = ContributionFactory(group=group, member=alice, round=1, block_number=100)
    late = ContributionFactory(group=group, member=bob, round=1, block_number=200, is_late=True)
    big_group = GroupFactory(token=TokenFactory(symbol="", decimals=None), contribution_amount=BIG)
    big = ContributionFactory(group=big_group, member=bob, amount=BIG, block_number=300)
    return {"group": group, "alice": alice, "bob": bob, "first": first, "late": late, "big": big}


def ids_on(response) -> list[int]:
    return [obj.id for obj in response.context["cl"].result_list]


@pytest.mark.django_db
def test_amounts_in_token_units_with_the_exact_raw_value(admin_client, rows):
    page = admin_client.get(LIST).content.decode()
    assert "1,250.5 USDC" in page
    assert "1250500000" in page
    # A token without decimals is shown in raw units, exactly.
    assert f"{BIG:,} raw units" in page
    assert str(BIG) in page


@pytest.mark.django_db
def test_address_search_matches_any_case_exactly(admin_client, rows):
    checksummed = to_checksum(rows["alice"].address)
    for term in (checksummed, checksummed.lower(), checksummed.upper().replace("0X", "0x")):
        assert ids_on(admin_client.get(LIST, {"q": term})) == [rows["first"].id]
    # A prefix is not a match: the search never does a LIKE scan.
    assert ids_on(admin_client.get(LIST, {"q": checksummed[:20]})) == []


@pytest.mark.django_db
def test_tx_hash_and_group_id_search(admin_client, rows):
    assert ids_on(
        admin_client.get(LIST, {"q": rows["late"].tx_hash.upper().replace("0X", "0x")})
    ) == [rows["late"].id]
    assert ids_on(admin_client.get(LIST, {"q": str(rows["group"].id)})) == [
        rows["late"].id,
        rows["first"].id,
    ]


@pytest.mark.django_db
def test_range_filters_compare_exact_amounts_and_blocks(admin_client, rows):
    assert ids_on(admin_client.get(LIST, {"amount_from": str(BIG)})) == [rows["big"].id]
    assert ids_on(admin_client.get(LIST, {"amount_to": str(BIG - 1)})) == [
        rows["late"].id,
        rows["first"].id,
    ]
    assert ids_on(admin_client.get(LIST, {"block_number_from": 150, "block_number_to": 250})) == [
        rows["late"].id
    ]
    assert ids_on(admin_client.get(LIST, {"is_late__exact": 1})) == [rows["late"].id]
    assert ids_on(admin_client.get(LIST, {"round": 1})) == [
        rows["big"].id,
        rows["late"].id,
        rows["first"].id,
    ]


@pytest.mark.django_db
def test_bad_amount_is_an_error_page_not_a_500(admin_client, rows):
    response = admin_client.get(LIST, {"amount_from": "-5"}, follow=True)
    assert response.status_code == 200
    assert "e=1" in response.redirect_chain[0][0]


@pytest.mark.django_db
def test_links_to_group_and_member(admin_client, rows):
    page = admin_client.get(LIST).content.decode()
    assert reverse("admin:groups_group_change", args=[rows["group"].id]) in page
    assert reverse("admin:groups_user_change", args=[rows["alice"].id]) in page


@pytest.mark.django_db
def test_export_is_the_filtered_list_with_exact_values(admin_client, rows):
    response = admin_client.get(
        reverse("admin:contributions_contribution_export"), {"q": "0x" + "AB" * 20}
    )
    assert response["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(line["id"]) for line in lines] == [rows["first"].id]
    assert lines[0]["member__address"] == to_checksum(rows["alice"].address)
    assert lines[0]["amount"] == "1250500000"
    big = admin_client.get(reverse("admin:contributions_contribution_export"), {"amount_from": BIG})
    assert str(BIG) in b"".join(big.streaming_content).decode()


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_rows(admin_client, rows, django_assert_num_queries):
    admin_client.get(LIST)  # fills the per-process index catalogue of the filter builder
    fragment = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "ajo-results"}
    # session, user, token filter choices, bounded count, page rows; the full page also reads
    # the round choices, the sidebar's saved views and the roles a view can be saved for
    with django_assert_num_queries(8):
        admin_client.get(LIST)
    with django_assert_num_queries(5):
        assert admin_client.get(LIST, {"p": 1}, **fragment).status_code == 200
    for n in range(30):
        ContributionFactory(
            group=rows["group"], member=UserFactory(), round=2, block_number=1000 + n
        )
    with django_assert_num_queries(8):
        assert admin_client.get(LIST).status_code == 200
    with django_assert_num_queries(5):
        assert admin_client.get(LIST, {"p": 2}, **fragment).status_code == 200


@pytest.mark.django_db
def test_deep_pages_show_the_same_rows_as_offset(rows):
    group = rows["group"]
    Contribution.objects.bulk_create(
        [
            Contribution(
                group=group,
                member=rows["alice"],
                round=3 + n,
                amount=1,
                tx_hash=f"0x{n:064x}",
                log_index=n % 3,
                block_number=5000 + n // 3,
                block_time=rows["first"].block_time,
            )
            for n in range(2100)
        ]
    )
    ordered = Contribution.objects.order_by("-block_number", "-log_index")
    expected = list(ordered.values_list("id", flat=True)[2050:2075])
    assert [c.id for c in seek_slice(ordered, 2050, 2075)] == expected
    backwards = ordered.reverse()
    assert [c.id for c in seek_slice(backwards, 2010, 2020)] == list(
        backwards.values_list("id", flat=True)[2010:2020]
    )
    paginator = EstimatedCountPaginator(ordered, 25)
    last = paginator.page(paginator.num_pages)
    assert [c.id for c in last.object_list] == list(
        ordered.values_list("id", flat=True)[(paginator.num_pages - 1) * 25 :]
    )
