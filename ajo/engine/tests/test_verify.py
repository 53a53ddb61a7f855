"""verify_chain finds an event the database lost or holds without the chain, and names it by
group, round and member: against hasContributed, the rotation's payouts and the contract's
logs counted per group."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ajo.engine import loop
from ajo.engine.verify import verify
from ajo.models import SyncState
from contributions.models import Contribution, Payout
from devtools.chainkit import private_chain, rewound
from devtools.faultproxy import FaultProxy
from groups.models import Group, Membership, Token, User


@pytest.fixture(scope="module")
def chain():
    with private_chain(groups=6, members=3, rounds=3, seed=11, late_ratio=0.2) as chain:
        yield chain


@pytest.fixture
def synced(chain, settings):
    """The simulated chain indexed, and verify_chain agreeing with it."""
    with rewound(chain, settings):
        loop.run()
        assert verify() == []
        yield chain


def verify_chain_output() -> list[str]:
    out = io.StringIO()
    with pytest.raises(CommandError, match="difference"):
        call_command("verify_chain", stdout=out)
    return out.getvalue().splitlines()


def count_line(group_id: int, name: str, logs: int, rows: int, what: str) -> str:
    through = SyncState.objects.get().last_block
    return (
        f"group {group_id}: {logs} {name} log(s) on chain through block {through}, "
        f"{rows} {what} row(s) in the database"
    )


def mend_totals_without(contribution: Contribution) -> None:
    """Take a contribution out of every total, as if it had never been indexed: nothing but
    the chain can tell it is missing then."""
    amount = contribution.amount

    def less(model, **lookup):
        row = model.objects.get(**lookup)
        model.objects.filter(pk=row.pk).update(
            total_contributed=row.total_contributed - amount,
            contribution_count=row.contribution_count - 1,
        )

    less(Group, pk=contribution.group_id)
    less(Membership, group_id=contribution.group_id, user_id=contribution.member_id)
    less(User, pk=contribution.member_id)
    less(Token, pk=Group.objects.get(pk=contribution.group_id).token_id)


@pytest.mark.django_db
@pytest.mark.parametrize("mended", [False, True], ids=["totals_left", "totals_mended"])
def test_a_lost_contribution_is_named(synced, mended):
    group = Group.objects.filter(status="completed").first()
    lost = Contribution.objects.filter(group=group, round=1).select_related("member").first()
    rows = group.contributions.count()
    lost.delete()
    if mended:
        mend_totals_without(lost)

    lines = verify_chain_output()

    member = lost.member.checksum_address
    assert (
        f"group {group.id} round 1: member {member} paid on chain (hasContributed), "
        "the database has no contribution"
    ) in lines
    assert count_line(group.id, "ContributionMade", rows, rows - 1, "contributions") in lines


@pytest.mark.django_db
def test_an_extra_contribution_is_named(synced):
    group = Group.objects.filter(status="active").first()
    paid = set(
        group.contributions.filter(round=group.current_round).values_list("member_id", flat=True)
    )
    unpaid = group.memberships.exclude(user_id__in=paid).select_related("user").first()
    assert unpaid is not None
    rows = group.contributions.count()
    real = group.contributions.first()
    Contribution.objects.create(
        group=group,
        member=unpaid.user,
        round=group.current_round,
        amount=group.contribution_amount,
        tx_hash="0x" + "ee" * 32,
        log_index=9_999,
        block_number=real.block_number,
        block_time=real.block_time,
    )

    lines = verify_chain_output()

    assert (
        f"group {group.id} round {group.current_round}: the database holds a contribution by "
        f"member {unpaid.user.checksum_address}, who has not paid that round on chain"
    ) in lines
    assert count_line(group.id, "ContributionMade", rows, rows + 1, "contributions") in lines


@pytest.mark.django_db
def test_a_lost_payout_is_named(synced):
    payout = Payout.objects.filter(round=2).select_related("recipient").first()
    group_id, rows = payout.group_id, Payout.objects.filter(group_id=payout.group_id).count()
    payout.delete()

    lines = verify_chain_output()

    recipient = payout.recipient.checksum_address
    assert (
        f"group {group_id} round 2: the payout to member {recipient} (position 1) is missing "
        "from the database"
    ) in lines
    assert count_line(group_id, "PayoutSent", rows, rows - 1, "payouts") in lines


@pytest.mark.django_db
def test_a_payout_to_the_wrong_member_is_named(synced):
    payout = Payout.objects.filter(round=1).select_related("recipient").first()
    first, second = (
        m.user
        for m in Membership.objects.filter(group_id=payout.group_id)
        .order_by("position")
        .select_related("user")[:2]
    )
    Payout.objects.filter(pk=payout.pk).update(recipient=second)

    differences = verify(scope=[payout.group_id])

    assert (
        f"group {payout.group_id} round 1: the database pays ['{second.checksum_address}'], "
        f"the rotation pays member {first.checksum_address} (position 0)"
    ) in differences


@pytest.mark.django_db
def test_event_counts_are_read_within_the_providers_limits(synced, settings):
    proxy = FaultProxy(synced.url)
    try:
        proxy.max_log_range = 2
        settings.CHAIN_RPC_URL = proxy.url
        assert verify() == []
        assert proxy.limit_errors >= 1
        Contribution.objects.filter(pk=Contribution.objects.first().pk).delete()
        assert any("ContributionMade log(s) on chain" in line for line in verify())
    finally:
        proxy.close()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "AJO_CONTRACT_ADDRESS is not set: set it to the AjoSavings deployment"),
        ("0x1234", "AJO_CONTRACT_ADDRESS is invalid"),
    ],
)
def test_without_a_usable_contract_verify_chain_says_which_setting(settings, address, message):
    settings.AJO_CONTRACT_ADDRESS = address
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("verify_chain", stdout=out)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
    assert out.getvalue() == ""


@pytest.mark.django_db
def test_a_group_state_its_counters_do_not_make_is_named(synced):
    """The round progress and deadline shown come from the counters (ajo.contract.rules): a
    row that says otherwise is a difference, though no view function reports either."""
    group = Group.objects.filter(status=Group.Status.ACTIVE).order_by("id").first()
    Group.objects.filter(id=group.id).update(paid_this_round=group.paid_this_round + 1)
    deadline = int(group.next_deadline.timestamp())

    assert verify_chain_output() == [
        f"group {group.id}: (status, current round, next deadline, paid this round) "
        f"('active', {group.current_round}, {deadline}, {group.paid_this_round + 1}) in the "
        f"database, ('active', {group.current_round}, {deadline}, {group.paid_this_round}) "
        "from its counters"
    ]


@pytest.mark.django_db
def test_database_only_needs_no_node_and_names_a_total_its_rows_do_not_make(synced, settings):
    settings.CHAIN_RPC_URL = "http://127.0.0.1:9"  # nothing listens: no node is asked
    out = io.StringIO()
    call_command("verify_chain", "--database-only", stdout=out)
    assert out.getvalue().splitlines() == ["the database holds its invariants"]

    membership = Membership.objects.filter(contribution_count__gt=0).select_related("user").first()
    Membership.objects.filter(pk=membership.pk).update(contribution_count=0)
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 difference"):
        call_command("verify_chain", "--database-only", stdout=out)
    [line] = out.getvalue().splitlines()
    assert line.startswith(
        f"group {membership.group_id}: member {membership.user.checksum_address} has "
        "(contributed, contributions, payout round, payout)"
    )
    assert line.endswith("from its rows")


@pytest.mark.django_db
def test_database_only_checks_the_whole_database():
    with pytest.raises(CommandError, match="drop --group"):
        call_command("verify_chain", "--database-only", "--group", "1")
