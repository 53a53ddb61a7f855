"""Cache-first group reads are made at head - confirmations and are undone like rows: a
reorg below their block reverts them, and the sync keeps of them only what its events
confirm. Each scenario ends with verify_chain agreeing with the chain."""

import pytest
from django.core.cache import cache

from ajo.engine import loop
from ajo.engine.verify import verify
from groups.models import Group, Membership, Token, User


def detail(client, group_id: int):
    cache.clear()  # each read goes to the chain, not to the last few seconds' answer
    return client.get(f"/api/groups/{group_id}/")


def rotation(body: dict) -> list[str]:
    return [member["address"] for member in body["rotation"]]


def group_count(address: str) -> int:
    return User.objects.get(address=address.lower()).group_count


@pytest.mark.django_db(transaction=True)  # on PostgreSQL the sync then runs pipelined
def test_a_group_read_ahead_then_reorged_away_leaves_only_the_new_chain_s_group(client, on_chain):
    a, b, c, d = on_chain.accounts[1:5]
    fork = on_chain.snapshot()
    on_chain.mine(2)
    loop.run()  # the checkpoint is on blocks the reorg below takes away
    group_id = on_chain.create_group(a, max_members=3, name="Orphaned")
    on_chain.join(group_id, b)
    read_at = on_chain.head()
    body = detail(client, group_id).json()
    assert (body["source"], body["name"], rotation(body)) == ("chain_view", "Orphaned", [a, b])
    assert Group.objects.get(id=group_id).read_block == read_at
    assert set(Membership.objects.values_list("read_block", flat=True)) == {read_at}

    on_chain.revert(fork)  # below the checkpoint and the read
    assert on_chain.create_group(c, max_members=2, name="Canonical") == group_id
    on_chain.join(group_id, d)
    on_chain.mine(5)  # the new chain is the longer one
    summary = loop.run()

    assert summary.reorgs == 1
    group = Group.objects.get(id=group_id)
    assert (group.source, group.name, group.max_members, group.read_block) == (
        "events",
        "Canonical",
        2,
        None,
    )
    body = detail(client, group_id).json()
    assert (body["name"], body["status"], rotation(body)) == ("Canonical", "active", [c, d])
    assert all(member["joined_block"] is not None for member in body["rotation"])
    assert [group_count(x) for x in (a, b, c, d)] == [0, 0, 1, 1]
    assert Token.objects.get().group_count == 1
    assert verify() == []


@pytest.mark.django_db(transaction=True)
def test_a_seat_read_ahead_is_confirmed_only_by_its_own_member(client, on_chain):
    a, b, c = on_chain.accounts[1:4]
    loop.run()
    fork = on_chain.snapshot()
    group_id = on_chain.create_group(a, max_members=3, name="Seats")
    on_chain.join(group_id, b)
    assert rotation(detail(client, group_id).json()) == [a, b]

    # The same group on the chain that stays, but someone else took seat 1.
    on_chain.revert(fork)
    assert on_chain.create_group(a, max_members=3, name="Seats") == group_id
    on_chain.join(group_id, c)
    loop.run()

    seats = list(Membership.objects.filter(group_id=group_id).order_by("position"))
    assert [(s.user.address, s.position) for s in seats] == [(a.lower(), 0), (c.lower(), 1)]
    assert all(s.joined_block is not None and s.read_block is None for s in seats)
    group = Group.objects.get(id=group_id)
    assert (group.source, group.member_count, group.read_block) == ("events", 2, None)
    assert [group_count(x) for x in (a, b, c)] == [1, 0, 1]  # b's count mended
    assert rotation(detail(client, group_id).json()) == [a, c]
    assert verify() == []


@pytest.mark.django_db
def test_a_seat_whose_member_matches_is_confirmed_in_place(client, on_chain):
    a, b, c = on_chain.accounts[1:4]
    loop.run()
    group_id = on_chain.create_group(a, max_members=3, name="Matching")
    on_chain.join(group_id, b)
    assert detail(client, group_id).status_code == 200
    seat_ids = list(Membership.objects.order_by("position").values_list("id", flat=True))
    on_chain.join(group_id, c)  # after the read: the events bring this seat
    loop.run()
    seats = list(Membership.objects.filter(group_id=group_id).order_by("position"))
    assert [s.id for s in seats[:2]] == seat_ids  # the seats read ahead, confirmed
    assert [s.user.address for s in seats] == [a.lower(), b.lower(), c.lower()]
    assert all(s.joined_block is not None and s.read_block is None for s in seats)
    assert Group.objects.get(id=group_id).status == "active"
    assert verify() == []


@pytest.mark.django_db
def test_a_group_read_from_a_block_the_chain_left_goes_once_the_sync_passes_it(client, on_chain):
    a, b = on_chain.accounts[1:3]
    loop.run()
    fork = on_chain.snapshot()
    group_id = on_chain.create_group(a, max_members=2, name="Never")
    on_chain.join(group_id, b)  # a full group: it started, on that fork
    assert detail(client, group_id).json()["status"] == "active"
    on_chain.revert(fork)
    on_chain.mine(3)  # the chain goes on without it: no event will ever speak of it

    loop.run()

    assert not Group.objects.exists()
    assert not Membership.objects.exists()
    assert [group_count(x) for x in (a, b)] == [0, 0]
    assert Token.objects.filter(group_count__gt=0).count() == 0
    response = detail(client, group_id)
    assert response.status_code == 404
    assert verify() == []


@pytest.mark.django_db
def test_a_group_not_yet_confirmations_deep_is_404_and_not_stored(client, on_chain, settings):
    settings.SYNC_CONFIRMATIONS = 3
    group_id = on_chain.create_group(on_chain.accounts[1], name="Too fresh")
    assert on_chain.ajo.functions.groupCount().call() == group_id  # there at latest

    response = detail(client, group_id)
    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"group {group_id} does not exist"
    assert not Group.objects.exists()

    on_chain.mine(2)
    assert detail(client, group_id).status_code == 404
    on_chain.mine(1)  # now as deep as the sync indexes
    body = detail(client, group_id).json()
    assert (body["name"], body["source"]) == ("Too fresh", "chain_view")
    assert Group.objects.get(id=group_id).read_block == on_chain.head() - 3


@pytest.mark.django_db
def test_a_read_of_a_block_the_sync_has_indexed_is_not_stored(client, on_chain):
    group_id = on_chain.create_group(on_chain.accounts[1], name="Indexed")
    loop.run()
    # The index lacks the group at a block it has indexed (as when the node serves another
    # fork): a read at that block cannot be stored, the sync would never correct it.
    Group.objects.filter(id=group_id).delete()
    response = detail(client, group_id)
    assert response.status_code == 404
    assert not Group.objects.exists()


@pytest.mark.django_db
def test_verify_agrees_while_values_read_ahead_wait_for_the_sync(client, on_chain):
    a, b = on_chain.accounts[1:3]
    loop.run()
    group_id = on_chain.create_group(a, max_members=3, name="Ahead")
    created_at = on_chain.head()
    on_chain.join(group_id, b)
    assert rotation(detail(client, group_id).json()) == [a, b]

    loop.run(to_block=created_at)  # the group's creation is indexed, b's join is not yet

    group = Group.objects.get(id=group_id)
    assert (group.source, group.member_count, group.read_block) == ("events", 2, created_at + 1)
    assert rotation(detail(client, group_id).json()) == [a, b]  # the read's seat stays
    assert verify() == []  # nothing the index holds disagrees with the chain there

    loop.run()
    assert Group.objects.get(id=group_id).read_block is None
    assert verify() == []
    # a value read ahead that outlived its block would be a difference
    Group.objects.filter(id=group_id).update(read_block=created_at)
    assert verify() == [
        f"group {group_id}: holds values read from view functions at block {created_at}, "
        f"which is indexed: the sync should have confirmed or dropped them"
    ]
