"""Sync bookkeeping rows as the admin and /api/sync/ show them."""

import pytest
from django.db import IntegrityError

from ajo.tests.factories import BlockRecordFactory, SyncStateFactory


@pytest.mark.django_db
def test_sync_state_lag_and_checksummed_contract():
    state = SyncStateFactory(contract_address="0xe7f1725e7734ce288f8367e1bb143e90bb3f0512")
    assert state.lag_blocks == 5
    assert state.checksum_contract == "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
    state.last_block = None  # nothing indexed yet
    assert state.lag_blocks is None


@pytest.mark.django_db
def test_one_block_record_per_height():
    record = BlockRecordFactory()
    with pytest.raises(IntegrityError):
        BlockRecordFactory(number=record.number)
