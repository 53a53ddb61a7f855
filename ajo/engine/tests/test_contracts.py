"""AjoSavings on a real anvil: a group's whole life, every refusal, late payments, events."""

import subprocess
from pathlib import Path

import pytest
from eth_abi import decode
from eth_utils import keccak
from web3.exceptions import ContractCustomError

from ajo.contract.artifacts import ajo_abi

ROOT = Path(__file__).resolve().parents[3]
DAY = 86_400
AMOUNT = 2**64 + 123_456_789  # above 2**64 raw units: exactness matters
ERRORS = {
    keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})")[:4]: e
    for e in ajo_abi()
    if e["type"] == "error"
}


def custom_error(call, sender) -> tuple[str, tuple]:
    """Name and arguments of the custom error that `call` reverts with when sent by `sender`."""
    with pytest.raises(ContractCustomError) as info:
        call.call({"from": sender})
    data = info.value.data if isinstance(info.value.data, str) else info.value.data["data"]
    raw = bytes.fromhex(data.removeprefix("0x"))
    error = ERRORS[raw[:4]]
    return error["name"], decode([i["type"] for i in error["inputs"]], raw[4:])


@pytest.fixture
def chain(w3, deployed, chain_snapshot):
    return deployed


@pytest.fixture
def people(w3, chain):
    """Three funded members who have approved the Ajo contract."""
    accounts = w3.eth.accounts[1:4]
    token = chain.token_contract
    for account in accounts:
        token.functions.mint(account, AMOUNT * 10).transact({"from": account})
        token.functions.approve(chain.ajo, 2**256 - 1).transact({"from": account})
    return accounts


def transact(w3, call, sender):
    receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": sender}))
    assert receipt["status"] == 1
    return receipt


def events(contract, receipt) -> list[tuple[str, dict]]:
    """Every AjoSavings event in `receipt`, in log order, as (name, args)."""
    by_topic = {
        keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"): e["name"]
        for e in ajo_abi()
        if e["type"] == "event"
    }
    out = []
    for log in receipt["logs"]:
        if log["address"] != contract.address:
            continue
        name = by_topic[bytes(log["topics"][0])]
        decoded = contract.events[name]().process_log(log)
        out.append((name, dict(decoded["args"])))
    return out


def create_group(w3, chain, creator, *, members=3, frequency=7 * DAY, name="Lagos Market Women 1"):
    ajo = chain.ajo_contract
    receipt = transact(
        w3, ajo.functions.createGroup(name, chain.token, AMOUNT, frequency, members), creator
    )
    return events(ajo, receipt)[0][1]["groupId"], receipt


def test_whole_life_of_a_group(w3, chain, people):
    ajo, token = chain.ajo_contract, chain.token_contract
    alice, bola, chidi = people
    assert ajo.functions.groupCount().call() == 0

    group_id, receipt = create_group(w3, chain, alice)
    assert group_id == 1
    assert events(ajo, receipt) == [
        (
            "GroupCreated",
            {
                "groupId": 1,
                "creator": alice,
                "token": chain.token,
                "contributionAmount": AMOUNT,
                "frequency": 7 * DAY,
                "maxMembers": 3,
                "name": "Lagos Market Women 1",
            },
        ),
        ("MemberJoined", {"groupId": 1, "member": alice, "position": 0}),
    ]
    assert ajo.functions.groupCount().call() == 1
    assert ajo.functions.getGroup(1).call() == [
        "Lagos Market Women 1",
        chain.token,
        alice,
        AMOUNT,
        7 * DAY,
        3,
        1,
        0,
        0,
        False,
        False,
    ]

    receipt = transact(w3, ajo.functions.joinGroup(1), bola)
    assert events(ajo, receipt) == [("MemberJoined", {"groupId": 1, "member": bola, "position": 1})]
    receipt = transact(w3, ajo.functions.joinGroup(1), chidi)
    start = w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert events(ajo, receipt) == [
        ("MemberJoined", {"groupId": 1, "member": chidi, "position": 2}),
        ("GroupStarted", {"groupId": 1, "startTime": start}),
    ]
    assert ajo.functions.getMembers(1).call() == [alice, bola, chidi]
    assert ajo.functions.getGroup(1).call()[6:] == [3, 1, start, True, False]

    balances = {a: token.functions.balanceOf(a).call() for a in people}
    for round_number, recipient in enumerate([alice, bola, chidi], start=1):
        for i, member in enumerate(people):
            assert not ajo.functions.hasContributed(1, round_number, member).call()
            receipt = transact(w3, ajo.functions.contribute(1), member)
            balances[member] -= AMOUNT
            assert ajo.functions.hasContributed(1, round_number, member).call()
            expected = [
                (
                    "ContributionMade",
                    {
                        "groupId": 1,
                        "member": member,
                        "round": round_number,
                        "amount": AMOUNT,
                    },
                )
            ]
            if i == len(people) - 1:  # the last payment of the round pays the pot out
                balances[recipient] += AMOUNT * 3
                expected.append(
                    (
                        "PayoutSent",
                        {
                            "groupId": 1,
                            "recipient": recipient,
                            "round": round_number,
                            "amount": AMOUNT * 3,
                        },
                    )
                )
                if round_number == 3:
                    expected.append(("GroupCompleted", {"groupId": 1}))
            assert events(ajo, receipt) == expected
            assert {a: token.functions.balanceOf(a).call() for a in people} == balances
        assert token.functions.balanceOf(chain.ajo).call() == 0
        if round_number < 3:
            assert ajo.functions.getGroup(1).call()[7] == round_number + 1

    # Everyone paid three times and got the pot once: back where they started.
    assert all(token.functions.balanceOf(a).call() == AMOUNT * 10 for a in people)
    assert ajo.functions.getGroup(1).call()[6:] == [3, 3, start, False, True]
    assert ajo.functions.groupCount().call() == 1


def test_every_refusal_is_a_named_custom_error(w3, chain, people):
    ajo = chain.ajo_contract
    alice, bola, chidi = people
    outsider = w3.eth.accounts[5]
    token = chain.token
    create = ajo.functions.createGroup

    assert custom_error(create("", token, 1, DAY, 3), alice) == ("EmptyName", ())
    zero = "0x" + "0" * 40
    assert custom_error(create("g", zero, 1, DAY, 3), alice) == ("ZeroToken", ())
    assert custom_error(create("g", token, 0, DAY, 3), alice) == ("ZeroAmount", ())
    assert custom_error(create("g", token, 1, 0, 3), alice) == ("ZeroFrequency", ())
    assert custom_error(create("g", token, 1, DAY, 1), alice) == ("TooFewMembers", (1,))
    assert custom_error(create("g", token, 2**255, DAY, 2), alice) == (
        "ContributionTooLarge",
        (2**255, 2),
    )

    for view in (
        ajo.functions.getGroup(1),
        ajo.functions.getMembers(1),
        ajo.functions.hasContributed(1, 1, alice),
        ajo.functions.joinGroup(1),
        ajo.functions.contribute(1),
    ):
        assert custom_error(view, alice) == ("GroupNotFound", (1,))
    assert custom_error(ajo.functions.getGroup(0), alice) == ("GroupNotFound", (0,))

    create_group(w3, chain, alice)
    assert custom_error(ajo.functions.joinGroup(1), alice) == (
        "AlreadyMember",
        (1, alice.lower()),
    )
    assert custom_error(ajo.functions.contribute(1), alice) == ("GroupNotActive", (1,))
    transact(w3, ajo.functions.joinGroup(1), bola)
    transact(w3, ajo.functions.joinGroup(1), chidi)
    assert custom_error(ajo.functions.joinGroup(1), outsider) == ("GroupFull", (1,))
    assert custom_error(ajo.functions.contribute(1), outsider) == (
        "NotMember",
        (1, outsider.lower()),
    )
    transact(w3, ajo.functions.contribute(1), alice)
    assert custom_error(ajo.functions.contribute(1), alice) == (
        "AlreadyContributed",
        (1, 1, alice.lower()),
    )
    assert custom_error(ajo.functions.getGroup(2), alice) == ("GroupNotFound", (2,))


def test_completed_group_refuses_payments_and_joins(w3, chain, people):
    ajo = chain.ajo_contract
    alice, bola, _ = people
    create_group(w3, chain, alice, members=2)
    transact(w3, ajo.functions.joinGroup(1), bola)
    for _ in range(2):
        transact(w3, ajo.functions.contribute(1), alice)
        transact(w3, ajo.functions.contribute(1), bola)
    assert ajo.functions.getGroup(1).call()[9:] == [False, True]
    assert custom_error(ajo.functions.contribute(1), alice) == ("GroupNotActive", (1,))
    assert custom_error(ajo.functions.joinGroup(1), w3.eth.accounts[6]) == ("GroupFull", (1,))


def test_late_contribution_is_accepted_after_the_deadline(w3, chain, people, chain_rpc):
    ajo = chain.ajo_contract
    alice, bola, _ = people
    create_group(w3, chain, alice, members=2, frequency=DAY)
    transact(w3, ajo.functions.joinGroup(1), bola)
    start = ajo.functions.getGroup(1).call()[8]
    on_time = transact(w3, ajo.functions.contribute(1), alice)
    assert w3.eth.get_block(on_time["blockNumber"])["timestamp"] <= start + DAY

    chain_rpc.call("evm_increaseTime", [2 * DAY])
    late = transact(w3, ajo.functions.contribute(1), bola)
    mined_at = w3.eth.get_block(late["blockNumber"])["timestamp"]
    assert mined_at > start + 1 * DAY  # round 1 was due at startTime + 1 * frequency
    assert [name for name, _ in events(ajo, late)] == ["ContributionMade", "PayoutSent"]
    assert ajo.functions.getGroup(1).call()[7] == 2


def test_group_ids_count_up_from_one(w3, chain, people):
    ids = [create_group(w3, chain, a, name=f"Group {i}")[0] for i, a in enumerate(people)]
    assert ids == [1, 2, 3]
    assert chain.ajo_contract.functions.groupCount().call() == 3


def test_test_token_is_six_decimal_tusd_with_batch_mint(w3, chain):
    token = chain.token_contract
    assert token.functions.name().call() == "Test USD"
    assert token.functions.symbol().call() == "TUSD"
    assert token.functions.decimals().call() == 6
    holders = w3.eth.accounts[7:10]
    transact(w3, token.functions.mintMany(holders, 5_000_000), w3.eth.accounts[0])
    assert [token.functions.balanceOf(h).call() for h in holders] == [5_000_000] * 3


def test_committed_artifacts_match_a_fresh_compile():
    result = subprocess.run(
        ["node", "contracts/build.mjs", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "match a fresh compile" in result.stdout
