"""Admin access: only staff get in, axes locks out guessing, and the two roles do what they say."""

import pytest
from django.contrib.auth.models import Group as Role
from django.test import Client
from django.urls import reverse

from groups.models import User
from groups.tests.factories import GroupFactory, StaffFactory, UserFactory


@pytest.fixture(autouse=True)
def _roles(admin_roles):
    pass


def staff_in(role: str) -> User:
    user = StaffFactory()
    user.groups.set([Role.objects.get(name=role)])
    return user


@pytest.mark.django_db
def test_non_staff_is_sent_to_login(client):
    client.force_login(UserFactory())
    response = client.get("/admin/groups/group/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_login_page_is_styled_without_internet(client):
    body = client.get("/admin/login/").content.decode()
    assert "unfold/css/styles.css" in body
    for outside in ("fonts.googleapis", "cdn.", "unpkg.com", "jsdelivr"):
        assert outside not in body


@pytest.mark.django_db
def test_logging_in_on_the_login_page_lands_in_the_admin(client):
    StaffFactory(username="bola")
    response = client.post(
        "/admin/login/", {"username": "bola", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/")["Location"] == "/admin/"


@pytest.mark.django_db
def test_axes_locks_out_after_repeated_failures(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    StaffFactory(username="alice")
    for _ in range(3):
        response = client.post("/admin/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 429
    # Even the right password is refused while locked out.
    response = client.post(
        "/admin/login/", {"username": "alice", "password": "correct horse battery"}
    )
    assert response.status_code == 429


PROXY = "10.0.0.1"  # the TLS proxy in front: every request arrives from it


def login(client, username: str, password: str, *, via: str, proxies: int = 1):
    """A login POST from the client address `via`, as the proxy forwards it: behind one
    proxy the right-most X-Forwarded-For entry is the one the proxy wrote."""
    if proxies:
        return client.post(
            "/admin/login/",
            {"username": username, "password": password},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=via,
        )
    return client.post(
        "/admin/login/", {"username": username, "password": password}, REMOTE_ADDR=via
    )


@pytest.mark.django_db
def test_bad_logins_from_one_address_do_not_lock_the_operator_out_elsewhere(settings):
    settings.NUM_PROXIES = 1
    settings.AXES_FAILURE_LIMIT = 3
    StaffFactory(username="op")
    attacker, operator = Client(), Client()
    for _ in range(3):
        response = login(attacker, "op", "guess", via="203.0.113.7")
    assert response.status_code == 429
    assert login(attacker, "op", "correct horse battery", via="203.0.113.7").status_code == 429
    # the operator, through the same proxy from their own address, gets in
    response = login(operator, "op", "correct horse battery", via="198.51.100.20")
    assert response.status_code == 302
    assert operator.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_the_lockout_keys_on_the_address_the_trusted_proxy_wrote(settings):
    """What the client sends in X-Forwarded-For is left of the proxy's entry: changing it
    on every guess neither escapes the lockout nor blames someone else."""
    from axes.models import AccessAttempt

    settings.NUM_PROXIES = 1
    settings.AXES_FAILURE_LIMIT = 3
    StaffFactory(username="op")
    for n in range(3):
        response = login(client := Client(), "op", "guess", via=f"192.0.2.{n}, 203.0.113.7")
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}
    assert login(client, "op", "correct horse battery", via="192.0.2.1").status_code == 302


def status_from(address: str, username: str, password: str = "guess") -> int:
    """A fresh browser's login from `address`, straight to gunicorn (no proxy)."""
    return login(Client(), username, password, via=address, proxies=0).status_code


@pytest.mark.django_db
def test_one_address_cannot_try_many_usernames(settings):
    settings.AXES_FAILURE_LIMIT = 3
    StaffFactory(username="op")
    for name in ("ada", "bola", "chidi"):
        status_from("203.0.113.7", name)
    assert status_from("203.0.113.7", "op", "correct horse battery") == 429
    assert status_from("203.0.113.8", "op", "correct horse battery") == 302


@pytest.mark.django_db
def test_a_good_login_between_guesses_does_not_reset_the_count(settings):
    """Else one viewer account would let its holder guess other passwords without end."""
    settings.AXES_FAILURE_LIMIT = 3
    StaffFactory(username="viewer1")
    StaffFactory(username="op")
    for _ in range(2):
        status_from("203.0.113.7", "op")
    assert status_from("203.0.113.7", "viewer1", "correct horse battery") == 302
    status_from("203.0.113.7", "op")
    assert status_from("203.0.113.7", "op", "correct horse battery") == 429


@pytest.mark.django_db
def test_right_password_logs_in(client):
    StaffFactory(username="bob")
    response = client.post(
        "/admin/login/", {"username": "bob", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_roles_can_view_every_table_and_export(client, role):
    group = GroupFactory()
    client.force_login(staff_in(role))
    for name in [
        "groups_group",
        "groups_membership",
        "groups_user",
        "groups_token",
        "contributions_contribution",
        "contributions_payout",
        "ajo_syncstate",
        "ajo_blockrecord",
    ]:
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
    assert client.get(reverse("admin:groups_group_change", args=[group.id])).status_code == 200
    response = client.get(reverse("admin:groups_group_export"))
    assert response.status_code == 200
    assert f"{group.id},{group.name}" in b"".join(response.streaming_content).decode()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_no_role_can_add_change_or_delete_chain_rows(client, role):
    group = GroupFactory()
    client.force_login(staff_in(role))
    assert client.get(reverse("admin:groups_group_add")).status_code == 403
    assert client.get(reverse("admin:groups_group_delete", args=[group.id])).status_code == 403
    page = client.get(reverse("admin:groups_group_change", args=[group.id])).content.decode()
    assert 'name="_save"' not in page
    response = client.post(
        reverse("admin:groups_group_change", args=[group.id]), {"name": "renamed"}
    )
    assert response.status_code == 403
    group.refresh_from_db()
    assert group.name != "renamed"


@pytest.mark.django_db
def test_only_operator_sees_and_runs_chain_actions(client):
    GroupFactory()
    url = reverse("admin:groups_group_changelist")
    client.force_login(staff_in("viewer"))
    assert "refresh_from_chain" not in client.get(url).content.decode()
    client.force_login(staff_in("operator"))
    page = client.get(url).content.decode()
    assert "refresh_from_chain" in page
    assert "verify_against_chain" in page


def post_action(client, action: str, group_ids: list[int]):
    return client.post(
        reverse("admin:groups_group_changelist"),
        {"action": action, "index": 0, "_selected_action": group_ids},
        follow=True,
    )


def action_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.mark.django_db
def test_viewer_cannot_post_a_chain_action(client):
    group = GroupFactory()
    client.force_login(staff_in("viewer"))
    response = post_action(client, "verify_against_chain", [group.id])
    assert response.status_code == 200
    # The action is not offered to a viewer, so nothing ran: no verification result at all.
    assert not any("chain" in message for message in action_messages(response))


@pytest.mark.django_db
def test_operator_runs_verify_and_gets_a_message(client):
    group = GroupFactory()
    client.force_login(staff_in("operator"))
    response = post_action(client, "verify_against_chain", [group.id])
    assert any("chain" in message.lower() for message in action_messages(response))


@pytest.mark.django_db
def test_staff_without_role_sees_nothing(client):
    client.force_login(StaffFactory())
    assert client.get(reverse("admin:groups_group_changelist")).status_code == 403
    assert client.get(reverse("admin:groups_group_export")).status_code == 403


@pytest.mark.django_db
def test_export_needs_the_export_permission(client):
    user = StaffFactory()
    viewer = Role.objects.get(name="viewer")
    user.user_permissions.set(viewer.permissions.exclude(codename="export_data"))
    client.force_login(user)
    page = client.get(reverse("admin:groups_group_changelist")).content.decode()
    assert "Export CSV" not in page
    assert client.get(reverse("admin:groups_group_export")).status_code == 403
