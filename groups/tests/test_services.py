"""The write services that sync and tx ingest share: exact totals, idempotent batches."""

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from ajo.contract.events import (
    ContributionMade,
    GroupCompleted,
    GroupCreated,
    GroupStarted,
    MemberJoined,
    PayoutSent,
)
from contributions.models import Contribution, Payout
from contributions.services import contribution_record_many, payout_record_many
from contributions.totals import group_totals_rebuild, totals_roll_up
from groups.models import Group, Membership, Token, User
from groups.services import (
    group_record_completed_many,
    group_record_created_many,
    group_record_started_many,
    membership_record_joined_many,
)
from groups.totals import group_rebuild_state, token_recompute_many, user_recompute_many

TOKEN = "0x" + "7" * 40
MEMBERS = ["0x" + f"{n:040x}" for n in (0xA1, 0xA2, 0xA3)]
AMOUNT = 2**70 + 3  # above 2**64: exactness matters
START = 1_700_000_000
FREQ = 3600


class Chain:
    """Makes events with increasing block numbers and log indexes, like a real chain."""

    def __init__(self):
        self.block = count(100)
        self.log = count(0)
        self.last_block = 99
        self.rolled_up = 99

    def meta(self, *, block_time):
        block = self.last_block = next(self.block)
        return {
            "block_number": block,
            "block_hash": f"0x{block:064x}",
            "block_time": block_time,
            "tx_hash": f"0x{block * 1000 + 1:064x}",
            "log_index": next(self.log),
        }


def full_life(chain: Chain, *, group_id=1, late_round=None):
    """Events of one group of three, every round paid, completed: returned per event type."""
    batches = {name: [] for name in ("created", "joined", "started", "paid", "payouts", "done")}
    batches["created"].append(
        GroupCreated(
            **chain.meta(block_time=START - 100),
            group_id=group_id,
            creator=MEMBERS[0],
            token=TOKEN,
            contribution_amount=AMOUNT,
            frequency=FREQ,
            max_members=3,
            name="Lagos Traders",
        )
    )
    for position, member in enumerate(MEMBERS):
        batches["joined"].append(
            MemberJoined(
                **chain.meta(block_time=START - 50 + position),
                group_id=group_id,
                member=member,
                position=position,
            )
        )
    batches["started"].append(
        GroupStarted(**chain.meta(block_time=START), group_id=group_id, start_time=START)
    )
    for round_number in (1, 2, 3):
        deadline = START + round_number * FREQ
        when = deadline + 5 if round_number == late_round else deadline - 60
        for member in MEMBERS:
            batches["paid"].append(
                ContributionMade(
                    **chain.meta(block_time=when),
                    group_id=group_id,
                    member=member,
                    round=round_number,
                    amount=AMOUNT,
                )
            )
        batches["payouts"].append(
            PayoutSent(
                **chain.meta(block_time=when),
                group_id=group_id,
                recipient=MEMBERS[round_number - 1],
                round=round_number,
                amount=AMOUNT * 3,
            )
        )
    batches["done"].append(
        GroupCompleted(**chain.meta(block_time=START + 3 * FREQ), group_id=group_id)
    )
    return batches


def apply(batches):
    group_record_created_many(events=batches["created"])
    membership_record_joined_many(events=batches["joined"])
    group_record_started_many(events=batches["started"])
    contribution_record_many(events=batches["paid"])
    payout_record_many(events=batches["payouts"])
    group_record_completed_many(events=batches["done"])


def roll_up(chain: Chain):
    """Roll up the blocks made since the last call, as the sync does: each block once."""
    totals_roll_up(after_block=chain.rolled_up, through_block=chain.last_block)
    chain.rolled_up = chain.last_block


def snapshot():
    """Everything a user could see, as plain values."""
    return {
        "groups": list(Group.objects.order_by("id").values()),
        "memberships": list(Membership.objects.order_by("id").values()),
        "users": list(User.objects.order_by("id").values()),
        "tokens": list(Token.objects.order_by("id").values()),
        "contributions": list(Contribution.objects.order_by("id").values()),
        "payouts": list(Payout.objects.order_by("id").values()),
    }


@pytest.mark.django_db
def test_full_life_of_a_group_keeps_exact_totals():
    chain = Chain()
    apply(full_life(chain, late_round=2))
    roll_up(chain)

    group = Group.objects.get(id=1)
    assert group.status == Group.Status.COMPLETED
    assert group.member_count == 3
    assert group.current_round == 3
    assert group.total_contributed == AMOUNT * 9
    assert group.total_paid_out == AMOUNT * 9
    assert group.start_time == datetime.fromtimestamp(START, tz=UTC)
    assert group.next_deadline is None
    assert group.token.address == TOKEN
    assert group.creator.address == MEMBERS[0]

    rotation = list(
        group.memberships.order_by("position").values_list("user__address", "payout_round")
    )
    assert rotation == [(MEMBERS[0], 1), (MEMBERS[1], 2), (MEMBERS[2], 3)]
    assert all(m.total_contributed == AMOUNT * 3 for m in group.memberships.all())

    late = Contribution.objects.filter(is_late=True)
    assert sorted(late.values_list("round", flat=True)) == [2, 2, 2]

    user = User.objects.get(address=MEMBERS[1])
    assert (user.total_contributed, user.total_received, user.group_count) == (
        AMOUNT * 3,
        AMOUNT * 3,
        1,
    )
    token = Token.objects.get(address=TOKEN)
    assert (token.total_contributed, token.total_paid_out, token.contribution_count) == (
        AMOUNT * 9,
        AMOUNT * 9,
        9,
    )


@pytest.mark.django_db
def test_group_state_moves_round_by_round():
    batches = full_life(Chain())
    group_record_created_many(events=batches["created"])
    membership_record_joined_many(events=batches["joined"][:2])
    assert Group.objects.get(id=1).status == Group.Status.FORMING
    membership_record_joined_many(events=batches["joined"][2:])
    group_record_started_many(events=batches["started"])
    contribution_record_many(events=batches["paid"][:4])  # round 1 complete, one of round 2
    payout_record_many(events=batches["payouts"][:1])
    group = Group.objects.get(id=1)
    assert (group.status, group.current_round, group.paid_this_round) == ("active", 2, 1)
    assert group.next_deadline == datetime.fromtimestamp(START, tz=UTC) + timedelta(
        seconds=2 * FREQ
    )


@pytest.mark.django_db
def test_repeated_batch_changes_nothing():
    chain = Chain()
    batches = full_life(chain)
    apply(batches)
    roll_up(chain)
    before = snapshot()
    apply(batches)
    # one batch overlapping the other, in a single call
    contribution_record_many(events=batches["paid"] + batches["paid"])
    assert snapshot() == before


@pytest.mark.django_db
def test_roll_up_in_parts_equals_roll_up_at_once():
    """However the sync cuts the range into roll-ups, each block once gives the same totals."""
    chain = Chain()
    apply(full_life(chain, group_id=1))
    apply(full_life(chain, group_id=2, late_round=1))
    unrolled = snapshot()
    assert {m["total_contributed"] for m in unrolled["memberships"]} == {0}
    middle = (chain.rolled_up + chain.last_block) // 2
    totals_roll_up(after_block=chain.rolled_up, through_block=middle)
    totals_roll_up(after_block=middle, through_block=chain.last_block)
    in_parts = snapshot()
    Membership.objects.update(
        total_contributed=0, contribution_count=0, payout_round=None, payout_amount=None
    )
    User.objects.update(total_contributed=0, contribution_count=0, total_received=0, payout_count=0)
    roll_up(chain)
    assert snapshot() == in_parts
    member = User.objects.get(address=MEMBERS[1])
    assert (member.contribution_count, member.total_contributed) == (6, AMOUNT * 6)
    assert (member.payout_count, member.total_received) == (2, AMOUNT * 6)
    assert sorted(Membership.objects.values_list("payout_round", "payout_amount")) == [
        (round_number, AMOUNT * 3) for round_number in (1, 1, 2, 2, 3, 3)
    ]


@pytest.mark.django_db
def test_recompute_agrees_with_incremental_totals():
    chain = Chain()
    apply(full_life(chain, group_id=1))
    apply(full_life(chain, group_id=2, late_round=1))
    roll_up(chain)
    before = snapshot()
    Group.objects.update(total_contributed=0, contribution_count=0, member_count=0)
    User.objects.update(total_contributed=0, group_count=0)
    group_totals_rebuild(group_ids=[1, 2])
    group_rebuild_state(group_ids=[1, 2])
    user_recompute_many(user_ids=User.objects.values_list("id", flat=True))
    token_recompute_many(token_ids=Token.objects.values_list("id", flat=True))
    assert snapshot() == before


@pytest.mark.django_db
def test_many_groups_in_one_batch_take_a_constant_number_of_queries(django_assert_max_num_queries):
    chain = Chain()
    small = full_life(chain, group_id=1)
    apply(small)
    big = {name: [] for name in small}
    for group_id in range(10, 40):
        for name, events in full_life(chain, group_id=group_id).items():
            big[name].extend(events)
    with django_assert_max_num_queries(60):
        apply(big)
    assert Contribution.objects.count() == 9 * 31
