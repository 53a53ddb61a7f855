"""Reads other parts compose: who paid a round, as the group detail receives it."""

import pytest

from contributions.selectors import round_payments
from contributions.tests.factories import ContributionFactory
from groups.tests.factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_round_payments_names_each_payer_of_one_round_with_lateness(django_assert_num_queries):
    group, other = GroupFactory(id=1), GroupFactory(id=2)
    on_time, late, absent = UserFactory(), UserFactory(), UserFactory()
    ContributionFactory(group=group, member=on_time, round=2, is_late=False)
    ContributionFactory(group=group, member=late, round=2, is_late=True)
    ContributionFactory(group=group, member=absent, round=1)  # another round
    ContributionFactory(group=other, member=absent, round=2)  # another group
    with django_assert_num_queries(1):
        paid = round_payments(group_id=group.id, round_number=2)
    assert paid == {on_time.id: False, late.id: True}
    assert round_payments(group_id=group.id, round_number=3) == {}
