"""Uint256Field and Uint256TotalField: exact on both databases, bounded, filterable and
orderable. Token totals are Uint256TotalField columns, group contribution amounts uint256."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from groups.models import Token
from groups.tests.factories import GroupFactory, TokenFactory

EDGE_VALUES = [0, 1, 2**63, 10**18 + 1, 2**64 + 7, 2**256 - 1, 2**256, 2**320 - 1]


@pytest.mark.django_db
@pytest.mark.parametrize("value", EDGE_VALUES)
def test_round_trip_is_exact(value):
    token = TokenFactory(total_contributed=value)
    assert Token.objects.get(pk=token.pk).total_contributed == value
    assert Token.objects.values_list("total_contributed", flat=True).get(pk=token.pk) == value


@pytest.mark.django_db
def test_equality_filter_and_ordering():
    for value in EDGE_VALUES:
        TokenFactory(total_contributed=value)
    assert Token.objects.filter(total_contributed=2**256 - 1).count() == 1
    assert Token.objects.filter(total_contributed=10**18 + 1).count() == 1
    # 10**18 + 1 and 10**18 collapse into one float; the field must tell them apart
    assert Token.objects.filter(total_contributed=10**18).count() == 0
    assert Token.objects.filter(total_contributed__gt=2**63).count() == 4
    assert Token.objects.filter(total_contributed__gte=2**63).count() == 5
    assert Token.objects.filter(total_contributed__gt=2**256 - 1).count() == 2
    ordered = list(
        Token.objects.order_by("total_contributed").values_list("total_contributed", flat=True)
    )
    assert ordered == sorted(EDGE_VALUES)
    assert list(
        Token.objects.order_by("-total_contributed").values_list("total_contributed", flat=True)
    ) == sorted(EDGE_VALUES, reverse=True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "message"),
    [(-1, "negative"), (2**320, "exceed 2"), ("12a", "decimal digits"), (1.5, "integer")],
)
def test_out_of_range_total_is_rejected_with_a_clear_error(value, message):
    with pytest.raises(ValueError, match=message):
        TokenFactory(total_contributed=value)


@pytest.mark.django_db
@pytest.mark.parametrize(("value", "message"), [(-1, "negative"), (2**256, "exceed 2")])
def test_out_of_range_amount_is_rejected_with_a_clear_error(value, message):
    with pytest.raises(ValueError, match=message):
        GroupFactory(contribution_amount=value)


@pytest.mark.django_db
def test_model_validation_names_the_problem():
    group = GroupFactory.build(contribution_amount=2**256)
    with pytest.raises(ValidationError, match="2\\*\\*256-1"):
        group.full_clean(exclude=["token", "creator"])


@pytest.mark.django_db
def test_database_rejects_a_value_written_around_the_field():
    token = TokenFactory()
    table = Token._meta.db_table
    if connection.vendor == "postgresql":
        bad = ["-1", str(2**320)]
    else:  # not digits; a uint256's width, whose text would not sort among the totals'
        bad = ["12abc".rjust(97, "0"), "1".rjust(78, "0")]
    for value in bad:
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET total_contributed = %s WHERE id = %s", [value, token.pk]
            )
