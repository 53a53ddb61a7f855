"""The admin's chain actions against a real anvil: verify finds differences, refresh re-reads."""

import pytest
from django.contrib.auth.models import Group as Role
from django.urls import reverse

from ajo.engine import loop
from devtools.chainkit import point_settings_at, private_chain
from groups.models import Group
from groups.tests.factories import StaffFactory


@pytest.fixture(scope="module")
def chain():
    with private_chain(groups=4, members=3, rounds=3, seed=5) as chain:
        yield chain


@pytest.fixture
def operator_client(client, chain, settings, admin_roles):
    point_settings_at(settings, chain)
    loop.run()
    operator = StaffFactory()
    operator.groups.set([Role.objects.get(name="operator")])
    client.force_login(operator)
    return client


def run_action(client, action: str, group_ids: list[int]) -> list[str]:
    response = client.post(
        reverse("admin:groups_group_changelist"),
        {"action": action, "index": 0, "_selected_action": group_ids},
        follow=True,
    )
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


@pytest.mark.django_db
def test_verify_against_chain_reports_agreement_then_each_difference(operator_client):
    ids = sorted(Group.objects.values_list("id", flat=True))
    assert run_action(operator_client, "verify_against_chain", ids) == [
        f"{len(ids)} group(s) agree with the chain."
    ]

    Group.objects.filter(id=ids[0]).update(name="Tampered")
    messages = run_action(operator_client, "verify_against_chain", ids)
    assert any(f"group {ids[0]}: name is 'Tampered' in the database" in m for m in messages)


@pytest.mark.django_db
def test_refresh_from_chain_answers_and_leaves_indexed_groups_to_the_sync(operator_client):
    group = Group.objects.order_by("id").first()
    messages = run_action(operator_client, "refresh_from_chain", [group.id])
    assert messages == [f"Group #{group.id} refreshed from the chain."]
    assert Group.objects.get(id=group.id).source == Group.Source.EVENTS  # sync's rows stand
