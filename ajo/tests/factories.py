from datetime import UTC, datetime

import factory
from factory.django import DjangoModelFactory

from ajo.models import BlockRecord, SyncState


class SyncStateFactory(DjangoModelFactory):
    class Meta:
        model = SyncState
        django_get_or_create = ["id"]

    id = 1
    chain_id = 31337
    contract_address = "0x" + "e7" * 20
    start_block = 0
    last_block = 100
    last_block_hash = "0x" + "ab" * 32
    head_block = 105


class BlockRecordFactory(DjangoModelFactory):
    class Meta:
        model = BlockRecord

    number = factory.Sequence(lambda n: n + 1)
    hash = factory.LazyAttribute(lambda o: f"0x{o.number:064x}")
    timestamp = factory.LazyFunction(lambda: datetime(2026, 1, 1, tzinfo=UTC))
