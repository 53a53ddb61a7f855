"""Totals past 2**256 - 1: what anyone can put on chain with a token of their own.

The contract's checked arithmetic caps one round's pot at 2**256 - 1, but a group's, token's
and user's totals add up every round and group. With a mintable token a member pays amounts
near (2**256 - 1) / members; after two rounds the group's total is past the uint256 range.
"""

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from ajo.engine import loop
from ajo.engine.verify import verify
from contributions.models import Contribution
from devtools.chainkit import database_snapshot, private_chain, rewound, tx_hash
from groups.models import Group, Membership, Token, User
from groups.tests.factories import StaffFactory

HUGE = (2**256 - 1) // 2  # two members: the largest amount the contract takes


@pytest.fixture(scope="module")
def chain():
    with private_chain() as chain:
        yield chain


@pytest.fixture
def on_chain(chain, settings):
    with rewound(chain, settings):
        yield chain


def pay_two_rounds(chain, token, a: str, b: str) -> tuple[int, dict]:
    """A two-member group in `token` paid to the end; returns its id and the receipt of the
    payment that closes it. Each round's pot (2 * HUGE) goes to one member, who passes half
    of it on so that both can pay the next round."""
    created = chain.send(chain.ajo.functions.createGroup("Whale", token.address, HUGE, 60, 2), a)
    group_id = chain.ajo.events.GroupCreated().process_receipt(created)[0]["args"]["groupId"]
    chain.join(group_id, b)
    chain.contribute(group_id, a)
    chain.contribute(group_id, b)  # round 1: the pot goes to a
    chain.send(token.functions.transfer(b, HUGE), a)
    chain.contribute(group_id, a)
    last = chain.contribute(group_id, b)  # round 2: the pot goes to b; completed
    chain.send(token.functions.transfer(a, HUGE), b)
    return group_id, last


# Transactional: on PostgreSQL the sync then runs pipelined (binary COPY, deferred writes),
# as ops run it.
@pytest.mark.django_db(transaction=True)
def test_totals_past_uint256_are_synced_exactly_and_shown(on_chain, client, admin_roles):
    a, b = on_chain.accounts[1], on_chain.accounts[2]
    token = on_chain.deploy_token(a, symbol="WHALE", decimals=18)
    for member in (a, b):
        on_chain.send(token.functions.mint(member, HUGE), member)
        on_chain.send(token.functions.approve(on_chain.deployment.ajo, 2**256 - 1), member)
    first, _ = pay_two_rounds(on_chain, token, a, b)
    before_last = on_chain.head()
    second, last = pay_two_rounds(on_chain, token, a, b)

    # the payment that pushes the token's totals past 2**256 - 1 twice, through the API
    loop.run(to_block=last["blockNumber"] - 1)
    ingested = client.post(
        "/api/transactions/", {"tx_hash": tx_hash(last)}, content_type="application/json"
    )
    assert ingested.status_code == 200, ingested.content
    assert ingested.json()["events"] == {
        "ContributionMade": 1,
        "PayoutSent": 1,
        "GroupCompleted": 1,
    }
    assert before_last < last["blockNumber"]

    summary = loop.run()

    assert summary.to_block == on_chain.head()
    assert verify() == []
    out = StringIO()
    call_command("verify_chain", stdout=out)
    assert "database agrees with the chain" in out.getvalue()

    four = 4 * HUGE  # two rounds of two payments of HUGE: past 2**256 - 1
    assert four > 2**256 - 1
    for group_id in (first, second):
        group = Group.objects.get(id=group_id)
        assert (group.status, group.total_contributed, group.total_paid_out) == (
            "completed",
            four,
            four,
        )
        assert sorted(
            Membership.objects.filter(group=group).values_list("total_contributed", flat=True)
        ) == [
            2 * HUGE,
            2 * HUGE,
        ]
    stored = Token.objects.get(address=token.address.lower())
    assert (stored.total_contributed, stored.total_paid_out) == (2 * four, 2 * four)
    assert Contribution.objects.filter(group__token=stored).count() == 8
    for member in (a, b):
        user = User.objects.get(address=member.lower())
        assert (user.total_contributed, user.total_received) == (four, four)

    # re-indexing the second group's blocks reverts them and rebuilds every total from the
    # rows (the reorg path): the same exact values
    whole = database_snapshot()
    loop.run(from_block=before_last + 1)
    assert database_snapshot() == whole
    assert verify() == []

    # the API shows them exactly, as strings
    detail = client.get(f"/api/groups/{second}/").json()
    assert (detail["total_contributed"], detail["total_paid_out"]) == (str(four), str(four))
    assert detail["pot"] == str(2 * HUGE)
    members = client.get(f"/api/groups/{second}/members/").json()["results"]
    assert {m["total_contributed"] for m in members} == {str(2 * HUGE)}
    user = client.get(f"/api/users/{a}/").json()
    assert (user["total_contributed"], user["total_received"]) == (str(four), str(four))
    listed = client.get(f"/api/users/{a}/groups/").json()["results"]
    assert {entry["group"]["total_contributed"] for entry in listed} == {str(four)}

    # and the admin shows them, in token units and as the exact raw value
    staff = Client()
    staff.force_login(StaffFactory(is_superuser=True))
    in_units = f"{four // 10**18:,}"
    pages = [
        reverse("admin:groups_group_change", args=[second]),
        reverse("admin:groups_group_changelist"),
        reverse("admin:groups_user_change", args=[User.objects.get(address=a.lower()).id]),
        reverse("admin:groups_user_changelist"),
        reverse("admin:groups_token_change", args=[stored.id]),
        reverse("admin:groups_token_changelist"),
        reverse("admin:groups_membership_changelist"),
        reverse("admin:index"),
    ]
    exact = {str(value) for value in (HUGE, 2 * HUGE, four, 2 * four)}
    for url in pages:
        page = staff.get(url)
        assert page.status_code == 200, url
        assert any(value in page.content.decode() for value in exact), url
    group_page = staff.get(pages[0]).content.decode()
    assert str(four) in group_page and in_units in group_page
