from datetime import UTC, datetime

import factory
from factory.django import DjangoModelFactory

from contributions.models import Contribution, Payout
from groups.tests.factories import GroupFactory, UserFactory


def _tx(n: int) -> str:
    return "0x" + f"{n:064x}"


class ContributionFactory(DjangoModelFactory):
    class Meta:
        model = Contribution

    group = factory.SubFactory(GroupFactory)
    member = factory.SubFactory(UserFactory)
    round = 1
    amount = factory.SelfAttribute("group.contribution_amount")
    tx_hash = factory.Sequence(lambda n: _tx(0xC000 + n))
    # (block number, log index) is an event's unique key: a sequence keeps rows built with
    # an explicit block number apart from the factory's own
    log_index = factory.Sequence(lambda n: n)
    block_number = factory.Sequence(lambda n: 100 + n)
    block_time = factory.LazyFunction(lambda: datetime(2026, 1, 1, tzinfo=UTC))


class PayoutFactory(DjangoModelFactory):
    class Meta:
        model = Payout

    group = factory.SubFactory(GroupFactory)
    recipient = factory.SubFactory(UserFactory)
    round = 1
    amount = factory.LazyAttribute(lambda o: o.group.contribution_amount * o.group.max_members)
    tx_hash = factory.Sequence(lambda n: _tx(0xD000 + n))
    log_index = factory.Sequence(lambda n: n)
    block_number = factory.Sequence(lambda n: 500 + n)
    block_time = factory.LazyFunction(lambda: datetime(2026, 1, 2, tzinfo=UTC))
