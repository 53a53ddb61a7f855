"""The fast serializer path gives exactly what DRF's own path gives, for the same rows."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone as django_timezone
from rest_framework import serializers

from ajo.addresses import to_checksum
from ajo.api.representation import FastRepresentationMixin, columns
from contributions.api.serializers import ContributionSerializer, PayoutSerializer
from contributions.models import Contribution
from contributions.selectors import contribution_list, payout_list
from contributions.tests.factories import ContributionFactory, PayoutFactory
from groups.api.serializers import (
    CurrentRoundSerializer,
    GroupSerializer,
    MembershipSerializer,
    UserGroupSerializer,
)
from groups.models import Group, Membership, Token, User
from groups.selectors import group_list, group_members
from groups.tests.factories import GroupFactory, MembershipFactory, TokenFactory, UserFactory

pytestmark = pytest.mark.django_db

BIG = 3 * 2**150 + 7  # far above 2**64
DAY = 86_400


def addr(n: int) -> str:
    return "0x" + f"{n:040x}"


def drf_to_representation(self, instance):
    return serializers.Serializer.to_representation(self, instance)


@pytest.fixture
def drf_path(monkeypatch):
    """Switch every fast serializer (nested ones too) back to DRF's own path."""

    def use_drf():
        monkeypatch.setattr(FastRepresentationMixin, "to_representation", drf_to_representation)

    return use_drf


@pytest.fixture
def world():
    """Groups at every status and source, a token without metadata, amounts above 2**64,
    paid and unpaid seats, late and on-time payments, nulls wherever the models allow them."""
    cache.clear()
    usdc = TokenFactory(address=addr(0x05D), symbol="USDC", name="USD Coin", decimals=6)
    raw = TokenFactory(address=addr(0xB16), symbol="", name="", decimals=None)
    users = [UserFactory(address=addr(0xA0 + i)) for i in range(4)]
    now = django_timezone.now().replace(microsecond=0)
    active = GroupFactory(
        id=3,
        name="Lagos market",
        token=raw,
        creator=users[0],
        contribution_amount=BIG,
        max_members=4,
        member_count=4,
        status=Group.Status.ACTIVE,
        current_round=2,
        start_time=now - timedelta(days=2),
        next_deadline=now - timedelta(hours=1),
        total_contributed=BIG * 5,
        total_paid_out=BIG * 4,
        contribution_count=5,
        payout_count=1,
        created_block=10,
        created_tx="0x" + "11" * 32,
        created_at=now - timedelta(days=3),
    )
    GroupFactory(id=4, name="Forming", token=usdc, creator=users[1])
    GroupFactory(
        id=5,
        name="From the chain",
        token=usdc,
        creator=users[2],
        source=Group.Source.CHAIN_VIEW,
        status=Group.Status.COMPLETED,
        completed_at=now,
    )
    for i, user in enumerate(users):
        MembershipFactory(
            group=active,
            user=user,
            position=i,
            joined_block=11 + i,
            joined_tx="0x" + f"{i:064x}",
            joined_at=now - timedelta(days=2, minutes=i),
            total_contributed=BIG * (2 if i < 2 else 1),
            contribution_count=2 if i < 2 else 1,
            payout_round=1 if i == 0 else None,
            payout_amount=BIG * 4 if i == 0 else None,
        )
    block = 100
    for round_number, payers in ((1, range(4)), (2, range(2))):
        for i in payers:
            ContributionFactory(
                group=active,
                member=users[i],
                round=round_number,
                amount=BIG,
                block_number=block,
                block_time=now - timedelta(days=1, seconds=block),
                is_late=(round_number, i) == (2, 1),
            )
            block += 1
    PayoutFactory(group=active, recipient=users[0], round=1, amount=BIG * 4, block_number=103)
    return active, users


def test_every_endpoint_answers_exactly_as_drf_would(client, world, drf_path):
    _, users = world
    member = users[1].address
    urls = [
        "/api/groups/",
        "/api/groups/?ordering=name",
        f"/api/groups/?member={member}",
        "/api/groups/3/",
        "/api/groups/4/",
        "/api/groups/5/",
        "/api/groups/3/members/",
        "/api/groups/3/contributions/",
        "/api/groups/3/payouts/",
        "/api/contributions/",
        "/api/contributions/?late=true",
        "/api/payouts/",
        f"/api/users/{member}/",
        f"/api/users/{member}/groups/",
        f"/api/users/{member}/contributions/",
    ]
    fast = {url: client.get(url) for url in urls}
    drf_path()
    for url in urls:
        plain = client.get(url)
        assert fast[url].status_code == plain.status_code == 200, url
        assert fast[url].json() == plain.json(), url
        assert plain.json().get("results", [plain.json()]), url  # something was compared


@pytest.mark.parametrize(
    ("serializer_class", "rows"),
    [
        (GroupSerializer, lambda: group_list().order_by("id")),
        (MembershipSerializer, lambda: group_members(group_id=3)),
        (
            UserGroupSerializer,
            lambda: Membership.objects.select_related(
                "user", "group__token", "group__creator"
            ).order_by("id"),
        ),
        (ContributionSerializer, contribution_list),
        (PayoutSerializer, payout_list),
    ],
)
def test_rows_with_only_the_shown_columns_give_what_full_rows_give_drf(
    world, drf_path, django_assert_num_queries, serializer_class, rows
):
    with django_assert_num_queries(1):  # no shown column is left deferred
        fast = serializer_class(rows().only(*columns(serializer_class)), many=True).data
    drf_path()
    assert fast == serializer_class(rows(), many=True).data
    assert fast


def _contribution(**overrides) -> Contribution:
    token = Token(address=addr(0x70), symbol="DAI", name="Dai", decimals=18)
    group = Group(id=9, name="Circle", token=token)
    values = {
        "group": group,
        "member": User(address=addr(0xA1)),
        "round": 2,
        "amount": BIG,
        "is_late": False,
        "block_number": 12,
        "block_time": datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
        "tx_hash": "0x" + "ab" * 32,
        "log_index": 3,
        **overrides,
    }
    return Contribution(**values)


@pytest.mark.parametrize(
    "row",
    [
        _contribution(),
        # Another zone, a naive time, a string: DRF converts or passes each in its own way.
        _contribution(block_time=datetime(2026, 3, 1, 13, 30, tzinfo=timezone(timedelta(hours=1)))),
        _contribution(block_time=datetime(2026, 3, 1, 12, 30)),
        _contribution(block_time="2026-03-01T12:30:00Z"),
        # None part-way along a dotted source: DRF leaves the key out.
        _contribution(member=None),
    ],
    ids=["utc", "other-zone", "naive", "string", "no-member"],
)
def test_unusual_values_take_drfs_path(row, drf_path):
    fast = ContributionSerializer(row).data
    drf_path()
    assert fast == ContributionSerializer(row).data


def test_times_are_iso_8601_utc():
    row = _contribution(
        block_time=datetime(2026, 3, 1, 13, 30, tzinfo=timezone(timedelta(hours=1)))
    )
    assert ContributionSerializer(row).data["block_time"] == "2026-03-01T12:30:00Z"


def test_a_mapping_row_is_read_like_drf_reads_it(drf_path):
    row = {
        "number": 2,
        "deadline": datetime(2026, 3, 1, tzinfo=UTC),
        "is_overdue": True,
        "payments_indexed": True,
        "next_recipient": addr(0xA1),
        "paid": [addr(0xA2)],
        "unpaid": [],
        "late": [addr(0xA2)],
    }
    fast = CurrentRoundSerializer(row).data
    drf_path()
    assert fast == CurrentRoundSerializer(row).data
    assert fast["next_recipient"] == to_checksum(addr(0xA1))


def test_a_field_the_fast_path_cannot_reproduce_is_refused():
    class WithMethod(FastRepresentationMixin, serializers.Serializer):
        label = serializers.SerializerMethodField()

        def get_label(self, obj):
            return "x"

    with pytest.raises(ImproperlyConfigured, match=r"WithMethod\.label"):
        _ = WithMethod({"label": 1}).data
