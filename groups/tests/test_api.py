"""Group and user endpoints: what a frontend sees, with pinned query counts."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from ajo.addresses import to_checksum
from ajo.api.cache import VERSION_READS
from contributions.tests.factories import ContributionFactory, PayoutFactory
from groups.models import Group
from groups.tests.factories import GroupFactory, MembershipFactory, TokenFactory, UserFactory

pytestmark = pytest.mark.django_db

BIG = 2**70 + 3  # above 2**64: JSON numbers and floats would lose digits
DAY = 86_400


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def addr(n: int) -> str:
    return "0x" + f"{n:040x}"


def active_group(
    *, group_id=7, members=4, current_round=2, paid=(), late=(), deadline_passed=False
):
    """An event-derived active group: round 1 complete and paid out to position 0, then
    `paid` positions paid in `current_round` (`late` ones after the deadline)."""
    token = TokenFactory(address=addr(0xB0B), symbol="DAI", decimals=18)
    now = timezone.now()
    start = (
        now
        - timedelta(seconds=DAY * current_round)
        + (timedelta(hours=-1) if deadline_passed else timedelta(hours=1))
    )
    users = [UserFactory(address=addr(0xA0 + i)) for i in range(members)]
    group = GroupFactory(
        id=group_id,
        name="Market women",
        token=token,
        creator=users[0],
        contribution_amount=BIG,
        frequency=DAY,
        max_members=members,
        member_count=members,
        status=Group.Status.ACTIVE,
        current_round=current_round,
        start_time=start,
        next_deadline=start + timedelta(seconds=DAY * current_round),
        created_block=10,
        created_tx="0x" + "11" * 32,
        created_at=start - timedelta(hours=2),
    )
    seats = [
        MembershipFactory(group=group, user=user, position=i, joined_block=10 + i)
        for i, user in enumerate(users)
    ]
    block = 100
    for round_number in range(1, current_round):
        for user in users:
            ContributionFactory(
                group=group, member=user, round=round_number, amount=BIG, block_number=block
            )
            block += 1
        PayoutFactory(
            group=group,
            recipient=users[round_number - 1],
            round=round_number,
            amount=BIG * members,
            block_number=block - 1,
            log_index=5,
        )
        seats[round_number - 1].payout_round = round_number
        seats[round_number - 1].payout_amount = BIG * members
        seats[round_number - 1].save()
    for position in paid:
        ContributionFactory(
            group=group,
            member=users[position],
            round=current_round,
            amount=BIG,
            block_number=block,
            is_late=position in late,
        )
        block += 1
    return group, users


class TestGroupDetail:
    def test_member_screen_in_one_answer(self, client, django_assert_num_queries):
        group, users = active_group(paid=(1, 2), late=(2,))
        with django_assert_num_queries(3 + VERSION_READS):
            response = client.get(f"/api/groups/{group.id}/")
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == 7
        assert body["name"] == "Market women"
        assert body["status"] == "active"
        assert body["contribution_amount"] == str(BIG)
        assert body["pot"] == str(BIG * 4)
        assert body["token"] == {
            "address": to_checksum(addr(0xB0B)),
            "symbol": "DAI",
            "name": "Test USD",
            "decimals": 18,
        }
        assert body["creator"] == to_checksum(users[0].address)
        assert body["next_deadline"].endswith("Z")
        current = body["round"]
        assert current["number"] == 2
        assert current["deadline"] == body["next_deadline"]
        assert current["is_overdue"] is False
        assert current["payments_indexed"] is True
        assert current["next_recipient"] == to_checksum(users[1].address)
        assert current["paid"] == [to_checksum(users[1].address), to_checksum(users[2].address)]
        assert current["unpaid"] == [to_checksum(users[0].address), to_checksum(users[3].address)]
        assert current["late"] == [to_checksum(users[2].address)]
        rotation = body["rotation"]
        assert [m["position"] for m in rotation] == [0, 1, 2, 3]
        assert [m["address"] for m in rotation] == [to_checksum(u.address) for u in users]
        assert [m["received_payout"] for m in rotation] == [True, False, False, False]
        assert rotation[0]["payout_round"] == 1
        assert rotation[0]["payout_amount"] == str(BIG * 4)
        assert [m["is_next"] for m in rotation] == [False, True, False, False]
        assert [m["round_status"] for m in rotation] == ["due", "paid", "paid_late", "due"]

    def test_overdue_members_are_late(self, client):
        group, users = active_group(paid=(0,), deadline_passed=True)
        body = client.get(f"/api/groups/{group.id}/").json()
        assert body["round"]["is_overdue"] is True
        assert body["round"]["late"] == [to_checksum(u.address) for u in users[1:]]
        assert [m["round_status"] for m in body["rotation"]] == [
            "paid",
            "overdue",
            "overdue",
            "overdue",
        ]

    def test_unknown_group_without_chain_config_is_404(self, client, settings):
        settings.AJO_CONTRACT_ADDRESS = ""
        response = client.get("/api/groups/999/")
        assert response.status_code == 404
        assert response.json() == {
            "error": {"code": "not_found", "message": "group 999 does not exist"}
        }

    def test_unknown_group_with_a_malformed_contract_setting_is_404(self, client, settings):
        settings.AJO_CONTRACT_ADDRESS = "0x1234"
        response = client.get("/api/groups/999/")
        assert response.status_code == 404
        assert response.json() == {
            "error": {"code": "not_found", "message": "group 999 does not exist"}
        }

    @pytest.mark.parametrize("path", ["/api/groups/0/", "/api/groups/99999999999999999999999/"])
    def test_out_of_range_ids_are_404_without_a_database_error(self, client, path):
        response = client.get(path)
        assert response.status_code == 404
        assert "does not exist" in response.json()["error"]["message"]

    @pytest.mark.parametrize(
        "path",
        ["/api/groups/abc/", "/api/groups/-1/", "/api/nowhere/", "/api/groups/a%0Ab/payouts/"],
    )
    def test_unknown_paths_are_json_404(self, client, path):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    def test_writes_are_405_with_a_message(self, client):
        group, _ = active_group()
        response = client.delete(f"/api/groups/{group.id}/")
        assert response.status_code == 405
        assert response.json()["error"] == {
            "code": "method_not_allowed",
            "message": 'Method "DELETE" not allowed.',
        }


class TestGroupList:
    def make_groups(self):
        dai = TokenFactory(address=addr(0xD41), symbol="DAI", decimals=18)
        usdc = TokenFactory(address=addr(0x05D), symbol="USDC", decimals=6)
        alice, bob = UserFactory(address=addr(0xA11CE)), UserFactory(address=addr(0xB0B0))
        g1 = GroupFactory(id=1, name="Lagos traders", token=dai, creator=alice)
        g2 = GroupFactory(
            id=2, name="Accra nurses", token=usdc, creator=bob, status="active", member_count=2
        )
        g3 = GroupFactory(id=3, name="Lagos drivers", token=usdc, creator=alice, status="completed")
        MembershipFactory(group=g2, user=alice, position=1)
        MembershipFactory(group=g2, user=bob, position=0)
        MembershipFactory(group=g3, user=bob, position=0)
        return g1, g2, g3, alice, bob

    def ids(self, response):
        assert response.status_code == 200, response.content
        return [g["id"] for g in response.json()["results"]]

    def test_newest_first_with_count(self, client):
        self.make_groups()
        response = client.get("/api/groups/")
        assert self.ids(response) == [3, 2, 1]
        assert response.json()["count"] == 3

    def test_filters(self, client):
        _, _, _, alice, bob = self.make_groups()
        assert self.ids(client.get("/api/groups/?status=active")) == [2]
        usdc = to_checksum(addr(0x05D))
        assert self.ids(client.get(f"/api/groups/?token={usdc}")) == [3, 2]
        assert self.ids(client.get(f"/api/groups/?token={usdc.lower()}")) == [3, 2]
        assert self.ids(client.get(f"/api/groups/?creator={alice.address}")) == [3, 1]
        assert self.ids(client.get(f"/api/groups/?member={alice.address.upper()}")) == [2]
        # all-upper-case hex after 0x carries no checksum, so it is accepted
        member = "0x" + bob.address[2:].upper()
        assert self.ids(client.get(f"/api/groups/?member={member}")) == [3, 2]
        assert self.ids(client.get("/api/groups/?search=lagos")) == [3, 1]
        assert self.ids(client.get("/api/groups/?search=lagos&status=forming")) == [1]

    def test_ordering(self, client):
        self.make_groups()
        assert self.ids(client.get("/api/groups/?ordering=name")) == [2, 3, 1]
        assert self.ids(client.get("/api/groups/?ordering=-member_count,id")) == [2, 1, 3]

    @pytest.mark.parametrize(
        ("query", "field", "words"),
        [
            ("status=paused", "status", "valid choice"),
            ("token=0x123", "token", "40 hex digits"),
            ("member=not-an-address", "member", "start with 0x"),
            ("token=%25s%25d", "token", "'%s%d'"),  # echoed as given, not formatted
            ("creator=0x" + "A" * 20 + "b" * 20, "creator", "checksum"),
            ("ordering=password", "ordering", "valid choice"),
            ("page=0", "page", "page number"),
            ("page=x", "page", "page number"),
            ("page_size=0", "page_size", "whole number"),
            ("page_size=ten", "page_size", "whole number"),
        ],
    )
    def test_bad_filters_are_400_naming_the_parameter(self, client, query, field, words):
        self.make_groups()
        response = client.get(f"/api/groups/?{query}")
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["message"].startswith(f"{field}: ")
        assert words in error["message"]
        assert field in error["details"]

    def test_page_past_the_end_is_404(self, client):
        self.make_groups()
        response = client.get("/api/groups/?page=9")
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "Invalid page."

    def test_page_size_is_capped(self, client):
        for i in range(1, 106):
            GroupFactory(id=i)
        response = client.get("/api/groups/?page_size=100")
        assert len(response.json()["results"]) == 100
        assert response.json()["count"] == 105
        assert client.get("/api/groups/?page_size=1000").status_code == 400

    @pytest.mark.parametrize("page_size", [1, 50])
    def test_query_count_does_not_grow_with_page_size(
        self, client, django_assert_num_queries, page_size
    ):
        for i in range(1, 61):
            GroupFactory(id=i, token=TokenFactory(address=addr(0xE00 + i % 3)))
        with django_assert_num_queries(
            2 + VERSION_READS
        ):  # count + page (token and creator joined)
            response = client.get(f"/api/groups/?page_size={page_size}&status=forming")
        assert len(response.json()["results"]) == page_size

    def test_member_filter_query_count(self, client, django_assert_num_queries):
        _, _, _, alice, _ = self.make_groups()
        with django_assert_num_queries(2 + VERSION_READS):
            response = client.get(f"/api/groups/?member={alice.address}")
        assert self.ids(response) == [2]


class TestMembers:
    def test_rotation_order_with_pinned_queries(self, client, django_assert_num_queries):
        group, users = active_group(members=6)
        with django_assert_num_queries(3 + VERSION_READS):  # group exists, count, page
            response = client.get(f"/api/groups/{group.id}/members/?page_size=4")
        body = response.json()
        assert body["count"] == 6
        assert [m["position"] for m in body["results"]] == [0, 1, 2, 3]
        first = body["results"][0]
        assert first["address"] == to_checksum(users[0].address)
        assert first["total_contributed"] == "0"  # factory memberships carry no totals
        assert first["payout_amount"] == str(BIG * 6)
        assert body["next"].endswith("page=2&page_size=4")

    def test_unknown_group(self, client):
        response = client.get("/api/groups/5/members/")
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "group 5 is not indexed"


class TestUsers:
    def test_user_totals(self, client, django_assert_num_queries):
        user = UserFactory(
            address=addr(0xCAFE),
            total_contributed=BIG * 3,
            total_received=BIG * 4,
            contribution_count=3,
            payout_count=1,
            group_count=2,
            first_seen_block=12,
        )
        with django_assert_num_queries(1 + VERSION_READS):
            response = client.get(f"/api/users/{user.address.upper().replace('0X', '0x')}/")
        assert response.json() == {
            "address": to_checksum(user.address),
            "total_contributed": str(BIG * 3),
            "total_received": str(BIG * 4),
            "contribution_count": 3,
            "payout_count": 1,
            "group_count": 2,
            "first_seen_block": 12,
        }

    def test_invalid_address_is_400(self, client):
        response = client.get("/api/users/0x12/")
        assert response.status_code == 400
        assert response.json()["error"]["message"].startswith("address: address must have 40")

    def test_unknown_address_is_404(self, client):
        response = client.get(f"/api/users/{addr(0xFEED)}/")
        assert response.status_code == 404
        assert "no activity" in response.json()["error"]["message"]

    def test_user_groups_and_contributions(self, client, django_assert_num_queries):
        group, users = active_group(paid=(1,))
        other = GroupFactory(id=3, token=group.token, creator=users[1])
        MembershipFactory(group=other, user=users[1], position=0)
        address = users[1].address
        with django_assert_num_queries(3 + VERSION_READS):  # user, count, page
            response = client.get(f"/api/users/{address}/groups/")
        body = response.json()
        assert [r["group"]["id"] for r in body["results"]] == [7, 3]
        assert body["results"][0]["position"] == 1
        assert body["results"][0]["group"]["token"]["symbol"] == "DAI"
        with django_assert_num_queries(2 + VERSION_READS):  # user, page
            response = client.get(f"/api/users/{address}/contributions/")
        rows = response.json()["results"]
        assert [(r["group"], r["round"]) for r in rows] == [(7, 2), (7, 1)]
        assert {r["member"] for r in rows} == {to_checksum(address)}


def test_times_are_iso_8601_utc(client):
    GroupFactory(id=1, created_at=datetime(2026, 3, 1, 12, 30, tzinfo=UTC))
    assert client.get("/api/groups/1/").json()["created_at"] == "2026-03-01T12:30:00Z"
