"""Group and user pages: relations one click away, latest rows, see-all links, chain actions."""

import pytest
from django.contrib.auth.models import Group as Role
from django.urls import reverse

from contributions.tests.factories import ContributionFactory, PayoutFactory
from groups.models import Group
from groups.tests.factories import (
    GroupFactory,
    MembershipFactory,
    StaffFactory,
    TokenFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def _roles(admin_roles):
    pass


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


@pytest.fixture
def circle(db):
    token = TokenFactory(symbol="USDC", decimals=6)
    group = GroupFactory(
        token=token,
        max_members=3,
        member_count=3,
        status=Group.Status.ACTIVE,
        current_round=2,
        contribution_amount=10_000_000,
        contribution_count=4,
        payout_count=1,
    )
    members = [
        MembershipFactory(group=group, user=UserFactory(), position=position)
        for position in range(3)
    ]
    block = 100
    for member in members:
        block += 1
        ContributionFactory(group=group, member=member.user, round=1, block_number=block)
    PayoutFactory(group=group, recipient=members[0].user, round=1, amount=30_000_000)
    ContributionFactory(
        group=group, member=members[1].user, round=2, block_number=200, is_late=True
    )
    return {"group": group, "members": members}


@pytest.mark.django_db
def test_group_page_shows_members_rounds_and_latest_events(admin_client, circle):
    group, members = circle["group"], circle["members"]
    page = admin_client.get(reverse("admin:groups_group_change", args=[group.id])).content.decode()
    # Members in rotation order, each a link to the user.
    positions = [page.index(members[n].user.checksum_address) for n in range(3)]
    assert positions == sorted(positions)
    for member in members:
        assert reverse("admin:groups_user_change", args=[member.user.id]) in page
    # Rounds: round 1 fully paid, paid out to position 0; round 2 one of three, one late.
    assert "3 / 3" in page and "1 / 3" in page
    assert "30 USDC" in page
    assert "2 (current)" in page
    # See-all links: filtered changelists, N from the maintained counters.
    assert f"/admin/contributions/contribution/?group__id__exact={group.id}" in page
    assert "See all 4" in page
    assert f"/admin/contributions/payout/?group__id__exact={group.id}" in page
    # Foreign keys are links.
    assert reverse("admin:groups_token_change", args=[group.token_id]) in page


@pytest.mark.django_db
def test_group_page_query_count_is_fixed(admin_client, circle, django_assert_num_queries):
    url = reverse("admin:groups_group_change", args=[circle["group"].id])
    admin_client.get(url)  # fills the per-process content-type cache, as any earlier page would
    # session, user, saved views (sidebar), group (get_object), group (form), members,
    # payouts, latest contributions, per-round tallies
    with django_assert_num_queries(9):
        admin_client.get(url)
    for round_number in range(3, 30):
        ContributionFactory(
            group=circle["group"], member=circle["members"][0].user, round=round_number
        )
    with django_assert_num_queries(9):
        assert admin_client.get(url).status_code == 200


@pytest.mark.django_db
def test_user_page_shows_groups_and_latest_contributions(admin_client, circle):
    user = circle["members"][1].user
    user.contribution_count = 2
    user.save()
    page = admin_client.get(reverse("admin:groups_user_change", args=[user.id])).content.decode()
    assert user.checksum_address in page
    assert reverse("admin:groups_group_change", args=[circle["group"].id]) in page
    assert f"/admin/contributions/contribution/?member__id__exact={user.id}" in page
    assert "See all 2" in page
    # A wallet is chain data: no form to change it.
    assert 'name="_save"' not in page


@pytest.mark.django_db
def test_see_all_link_lists_only_that_group(admin_client, circle):
    other = ContributionFactory()
    response = admin_client.get(
        "/admin/contributions/contribution/", {"group__id__exact": circle["group"].id}
    )
    ids = [c.id for c in response.context["cl"].result_list]
    assert len(ids) == 4 and other.id not in ids


@pytest.mark.django_db
def test_group_search_by_id_name_and_creator_address(admin_client, circle):
    group = circle["group"]
    url = reverse("admin:groups_group_changelist")

    def found(term):
        return [g.id for g in admin_client.get(url, {"q": term}).context["cl"].result_list]

    assert found(str(group.id)) == [group.id]
    assert found(group.name.upper()) == [group.id]
    assert found(group.creator.checksum_address) == [group.id]
    assert found("no such circle") == []


@pytest.mark.django_db
def test_group_filters_by_status_and_token(admin_client, circle):
    forming = GroupFactory(status=Group.Status.FORMING)
    url = reverse("admin:groups_group_changelist")
    active = admin_client.get(url, {"status__exact": "active"}).context["cl"].result_list
    assert [g.id for g in active] == [circle["group"].id]
    by_token = admin_client.get(url, {"token__id__exact": forming.token_id}).context["cl"]
    assert [g.id for g in by_token.result_list] == [forming.id]


@pytest.mark.django_db
def test_autocomplete_finds_a_group_by_id(admin_client, circle):
    response = admin_client.get(
        "/admin/autocomplete/",
        {
            "app_label": "contributions",
            "model_name": "contribution",
            "field_name": "group",
            "term": str(circle["group"].id),
        },
    )
    assert [r["id"] for r in response.json()["results"]] == [str(circle["group"].id)]


@pytest.mark.django_db
def test_chain_actions_report_a_failure_as_a_message(admin_client, circle, settings):
    settings.AJO_CONTRACT_ADDRESS = ""  # no chain configured: both actions must say so
    operator = StaffFactory()
    operator.groups.set([Role.objects.get(name="operator")])
    admin_client.force_login(operator)
    group_id = circle["group"].id
    expected = {
        "refresh_from_chain": f"Group #{group_id}: refresh failed: AJO_CONTRACT_ADDRESS is not set",
        "verify_against_chain": "Verification failed: AJO_CONTRACT_ADDRESS is not set",
    }
    for action, text in expected.items():
        response = admin_client.post(
            reverse("admin:groups_group_changelist"),
            {"action": action, "index": 0, "_selected_action": [group_id]},
            follow=True,
        )
        assert response.status_code == 200
        messages = [str(m) for m in response.context["messages"]]
        assert any(message.startswith(text) for message in messages), (action, messages)


@pytest.mark.django_db
def test_group_list_shows_the_start_of_a_long_name_and_the_whole_on_hover(admin_client):
    name = "Balogun market women, every Friday after Jumat; " * 8  # names can be any length
    GroupFactory(name=name)
    page = admin_client.get(reverse("admin:groups_group_changelist")).content.decode()
    assert f'title="{name}"' in page
    assert f">{name[:59]}…</span>" in page
