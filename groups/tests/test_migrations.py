"""Migrations that move stored data: checked with rows in them, forwards and back."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = ("groups", "0008_chain_integer_widths")
WIDE = ("groups", "0009_wide_totals")
BIG = 2**256 - 1  # the largest total the older columns could hold


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def stored_text(table: str, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")
        return str(cursor.fetchone()[0])


@pytest.fixture
def at_latest():
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_wide_totals_keep_every_value_both_ways(at_latest):
    apps = migrate(BEFORE)
    User, Token = apps.get_model("groups", "User"), apps.get_model("groups", "Token")
    Group, Membership = apps.get_model("groups", "Group"), apps.get_model("groups", "Membership")
    user = User.objects.create(
        username="a", address="0x" + "a" * 40, total_contributed=BIG, total_received=7
    )
    token = Token.objects.create(address="0x" + "b" * 40, total_contributed=BIG, total_paid_out=1)
    group = Group.objects.create(
        id=1,
        name="g",
        token=token,
        creator=user,
        contribution_amount=5,
        frequency=60,
        max_members=2,
        total_contributed=BIG - 1,
        total_paid_out=0,
    )
    Membership.objects.create(group=group, user=user, position=0, total_contributed=123)

    apps = migrate(WIDE)
    User, Token = apps.get_model("groups", "User"), apps.get_model("groups", "Token")
    Group, Membership = apps.get_model("groups", "Group"), apps.get_model("groups", "Membership")
    assert User.objects.values_list("total_contributed", "total_received").get() == (BIG, 7)
    assert Token.objects.values_list("total_contributed", "total_paid_out").get() == (BIG, 1)
    assert Group.objects.values_list("total_contributed", "total_paid_out").get() == (BIG - 1, 0)
    assert Membership.objects.values_list("total_contributed", flat=True).get() == 123
    if connection.vendor == "sqlite":  # padded again: text order is still number order
        assert stored_text("groups_membership", "total_contributed") == "123".rjust(97, "0")
    # the new columns hold what the old ones could not, exactly, and order it right
    Token.objects.update(total_contributed=BIG * 8)
    Token.objects.create(address="0x" + "c" * 40, total_contributed=BIG)
    assert list(
        Token.objects.order_by("total_contributed").values_list("total_contributed", flat=True)
    ) == [
        BIG,
        BIG * 8,
    ]
    assert Token.objects.filter(total_contributed__gt=BIG).count() == 1

    # going back stops, naming the row, while a total does not fit; nothing changes
    with pytest.raises(RuntimeError, match=r"groups_token row \d+ has total_contributed above"):
        migrate(BEFORE)
    apps = migrate(WIDE)  # (a failed step left the state as it was)
    Token = apps.get_model("groups", "Token")
    assert Token.objects.filter(total_contributed=BIG * 8).count() == 1

    Token.objects.filter(total_contributed=BIG * 8).update(total_contributed=BIG)
    apps = migrate(BEFORE)
    User, Token = apps.get_model("groups", "User"), apps.get_model("groups", "Token")
    Membership = apps.get_model("groups", "Membership")
    assert User.objects.values_list("total_contributed", "total_received").get() == (BIG, 7)
    assert set(Token.objects.values_list("total_contributed", flat=True)) == {BIG}
    assert Membership.objects.values_list("total_contributed", flat=True).get() == 123
    if connection.vendor == "sqlite":
        assert stored_text("groups_membership", "total_contributed") == "123".rjust(78, "0")
