"""Deploys TestToken and AjoSavings to a dev node and records where they went in an env file."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import requests
from web3 import Web3
from web3.exceptions import TimeExhausted

from ajo.contract.artifacts import ajo_abi, ajo_bytecode, token_abi, token_bytecode
from ajo.engine.rpc import RpcClient, RpcUnavailable

TOKEN_NAME = "Test USD"
TOKEN_SYMBOL = "TUSD"
TOKEN_DECIMALS = 6


class DeployError(RuntimeError):
    """The contracts could not be deployed; the message says why, on one line."""


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    ajo: str  # checksummed
    token: str  # checksummed
    block: int  # block of the AjoSavings deployment: where indexing starts

    def as_dict(self) -> dict:
        return asdict(self)


def deploy_contracts(*, rpc_url: str, timeout: float = 60.0) -> Deployment:
    """Deploy TestToken then AjoSavings from the node's first unlocked account."""
    with RpcClient(rpc_url, max_retries=2, timeout=timeout) as rpc:
        chain_id = rpc.chain_id()
        accounts = rpc.call("eth_accounts")
        if not accounts:
            raise DeployError(f"the node at {rpc.label} has no unlocked account to deploy from")
        deployer = Web3.to_checksum_address(accounts[0])

    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        token, _ = _deploy(
            w3,
            deployer,
            token_abi(),
            token_bytecode(),
            TOKEN_NAME,
            TOKEN_SYMBOL,
            TOKEN_DECIMALS,
            what="TestToken",
            timeout=timeout,
        )
        ajo, block = _deploy(
            w3, deployer, ajo_abi(), ajo_bytecode(), what="AjoSavings", timeout=timeout
        )
    except requests.RequestException as exc:
        reason = f"lost the node at {rpc.label} while deploying: {type(exc).__name__}"
        raise DeployError(reason) from None
    return Deployment(chain_id=chain_id, ajo=ajo, token=token, block=block)


def _deploy(
    w3: Web3, deployer: str, abi, bytecode, *args, what: str, timeout: float
) -> tuple[str, int]:
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    try:
        tx_hash = factory.constructor(*args).transact({"from": deployer})
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    except TimeExhausted:
        raise DeployError(
            f"{what} deployment was not mined within {timeout:g}s (is the node mining?)"
        ) from None
    if receipt["status"] != 1 or not receipt.get("contractAddress"):
        raise DeployError(f"{what} deployment failed in tx {tx_hash.to_0x_hex()}")
    return Web3.to_checksum_address(receipt["contractAddress"]), receipt["blockNumber"]


_ENV_KEYS = ("AJO_CONTRACT_ADDRESS", "AJO_TOKEN_ADDRESS", "AJO_START_BLOCK")


def write_env(path: str | Path, deployment: Deployment) -> None:
    """Set AJO_CONTRACT_ADDRESS, AJO_TOKEN_ADDRESS and AJO_START_BLOCK in an env file.

    Existing lines for those keys are replaced in place; every other line is kept as it was.
    The file is created when missing.
    """
    path = Path(path)
    values = {
        "AJO_CONTRACT_ADDRESS": deployment.ajo,
        "AJO_TOKEN_ADDRESS": deployment.token,
        "AJO_START_BLOCK": str(deployment.block),
    }
    lines = path.read_text().splitlines() if path.exists() else []
    pattern = re.compile(r"^\s*(?:export\s+)?(" + "|".join(_ENV_KEYS) + r")\s*=")
    written: set[str] = set()
    out: list[str] = []
    for line in lines:
        match = pattern.match(line)
        if match:
            key = match.group(1)
            if key in written:
                continue  # a duplicate of a key already set: drop it so one value wins
            out.append(f"{key}={values[key]}")
            written.add(key)
        else:
            out.append(line)
    out.extend(f"{key}={values[key]}" for key in _ENV_KEYS if key not in written)
    path.write_text("\n".join(out) + "\n")


__all__ = ["DeployError", "Deployment", "RpcUnavailable", "deploy_contracts", "write_env"]
