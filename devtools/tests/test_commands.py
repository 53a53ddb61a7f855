"""deploy_contracts and simulate_chain, run as ops run them, against a real anvil."""

import json
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from web3 import Web3

from ajo.contract.artifacts import EVENT_BY_TOPIC
from ajo.engine.rpc import RpcClient
from devtools.anvil import free_port

SMALL_RUN = ["--groups", "6", "--members", "3", "--rounds", "3", "--seed", "1"]


def run_command(name, *args) -> dict:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return json.loads(out.getvalue().strip().splitlines()[-1])


def logs_by_event(rpc: RpcClient, address: str, from_block: int) -> Counter:
    logs = rpc.call(
        "eth_getLogs",
        [
            {
                "address": address,
                "fromBlock": hex(from_block),
                "toBlock": "latest",
            }
        ],
    )
    return Counter(EVENT_BY_TOPIC[log["topics"][0]] for log in logs)


def all_logs(rpc: RpcClient, address: str, from_block: int) -> list[dict]:
    return rpc.call(
        "eth_getLogs",
        [
            {
                "address": address,
                "fromBlock": hex(from_block),
                "toBlock": "latest",
            }
        ],
    )


def test_deploy_contracts_prints_json_and_writes_env(
    chain_settings, chain_snapshot, chain_rpc, tmp_path
):
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=1\nAJO_CONTRACT_ADDRESS=0xold\n# keep me\nAJO_START_BLOCK=99\n")
    result = run_command("deploy_contracts", "--write-env", str(env_file))

    assert result["chain_id"] == 31337
    assert result["ajo"] == Web3.to_checksum_address(result["ajo"])
    assert result["token"] == Web3.to_checksum_address(result["token"])
    assert result["block"] == chain_rpc.block_number()
    assert len(chain_rpc.get_code(result["ajo"])) > 1000
    assert env_file.read_text().splitlines() == [
        "DEBUG=1",
        f"AJO_CONTRACT_ADDRESS={result['ajo']}",
        "# keep me",
        f"AJO_START_BLOCK={result['block']}",
        f"AJO_TOKEN_ADDRESS={result['token']}",
    ]


def test_deploy_contracts_unreachable_rpc_is_a_one_line_error(settings):
    settings.CHAIN_RPC_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CommandError) as info:
        call_command("deploy_contracts", stdout=StringIO())
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("deploy failed: RPC 127.0.0.1:") and "connection refused" in message


def test_simulate_chain_counts_equal_the_logs(chain_settings, chain_snapshot, chain_rpc):
    first_block = chain_rpc.block_number() + 1
    counts = run_command("simulate_chain", *SMALL_RUN)

    by_event = logs_by_event(chain_rpc, chain_settings.ajo, first_block)
    assert counts == {
        "groups": by_event["GroupCreated"],
        "joins": by_event["MemberJoined"],
        "contributions": by_event["ContributionMade"],
        "payouts": by_event["PayoutSent"],
        "completed": by_event["GroupCompleted"],
        "late": counts["late"],
    }
    assert counts["groups"] == 6

    ajo = chain_settings.ajo_contract
    states = Counter()
    for group_id in range(1, ajo.functions.groupCount().call() + 1):
        (*_, active, completed) = ajo.functions.getGroup(group_id).call()
        if completed:
            states["completed"] += 1
        elif active:
            states["active"] += 1
        else:
            states["forming"] += 1
    assert set(states) == {"forming", "active", "completed"}
    assert states["completed"] == counts["completed"]
    # automine is back on: a plain transaction is mined at once.
    assert chain_rpc.call("anvil_getAutomine") is True


def test_simulate_chain_late_count_matches_block_times(chain_settings, chain_snapshot, chain_rpc):
    first_block = chain_rpc.block_number() + 1
    counts = run_command(
        "simulate_chain",
        "--groups",
        "5",
        "--members",
        "4",
        "--rounds",
        "4",
        "--seed",
        "3",
        "--late-ratio",
        "0.5",
    )
    ajo = chain_settings.ajo_contract
    late = 0
    for log in all_logs(chain_rpc, chain_settings.ajo, first_block):
        if EVENT_BY_TOPIC[log["topics"][0]] != "ContributionMade":
            continue
        group_id, round_number = int(log["topics"][1], 16), int(log["topics"][3], 16)
        group = ajo.functions.getGroup(group_id).call()
        deadline = group[8] + round_number * group[4]
        block = chain_rpc.call("eth_getBlockByNumber", [log["blockNumber"], False])
        late += int(block["timestamp"], 16) > deadline
    assert counts["late"] == late > 0


def test_simulate_chain_is_reproducible_from_its_seed(chain_settings, chain_snapshot, chain_rpc):
    first_block = chain_rpc.block_number() + 1
    snapshot = chain_rpc.call("evm_snapshot")
    run_command("simulate_chain", *SMALL_RUN)
    first = all_logs(chain_rpc, chain_settings.ajo, first_block)
    chain_rpc.call("evm_revert", [snapshot])
    run_command("simulate_chain", *SMALL_RUN)
    second = all_logs(chain_rpc, chain_settings.ajo, first_block)
    strip = [{k: v for k, v in log.items() if k != "blockHash"} for log in first]
    assert strip == [{k: v for k, v in log.items() if k != "blockHash"} for log in second]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--groups", "-1", "--members", "3", "--rounds", "1"],
            "--groups must be 0 or more, got -1",
        ),
        (["--groups", "1", "--members", "1", "--rounds", "1"], "--members must be between 2 and"),
        (
            ["--groups", "1", "--members", "3", "--rounds", "-2"],
            "--rounds must be 0 or more, got -2",
        ),
        (
            ["--groups", "1", "--members", "3", "--rounds", "1", "--late-ratio", "1.5"],
            "--late-ratio must be between 0 and 1, got 1.5",
        ),
    ],
)
def test_simulate_chain_rejects_nonsense_flags(chain_settings, args, message):
    with pytest.raises(CommandError) as info:
        call_command("simulate_chain", *args, stdout=StringIO())
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def simulate_error(*args) -> str:
    with pytest.raises(CommandError) as info:
        call_command("simulate_chain", *SMALL_RUN, *args, stdout=StringIO())
    message = str(info.value)
    assert "\n" not in message
    return message


def test_simulate_chain_unreachable_rpc(chain_settings, settings):
    settings.CHAIN_RPC_URL = f"http://127.0.0.1:{free_port()}"
    assert "connection refused" in simulate_error()


def test_simulate_chain_missing_or_malformed_contract_address(chain_settings, settings):
    settings.AJO_CONTRACT_ADDRESS = ""
    assert simulate_error() == "simulation failed: AJO_CONTRACT_ADDRESS is not set"
    settings.AJO_CONTRACT_ADDRESS = "0x1234"
    assert "AJO_CONTRACT_ADDRESS is not a valid address" in simulate_error()


def test_simulate_chain_address_without_code(chain_settings, settings):
    settings.AJO_CONTRACT_ADDRESS = "0x" + "ab" * 20
    message = simulate_error()
    assert "has no contract code on chain 31337" in message
    assert "deploy_contracts" in message


def test_simulate_chain_token_must_be_set(chain_settings, settings):
    settings.AJO_TOKEN_ADDRESS = ""
    assert "token address" in simulate_error()
    assert "has no contract code" in simulate_error("--token", "0x" + "cd" * 20)
