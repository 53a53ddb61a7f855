"""pytest fixtures for tests that need a real chain: an anvil node and the deployed contracts.

NOTE: loaded as a plugin by the root conftest.py: `pytest_plugins = ["devtools.testing"]`.

Tests that change chain state take `chain_snapshot` (evm_snapshot before, evm_revert after), so
the session's node and deployment stay clean for the next test. A missing anvil fails the
tests that need it, with the reason; nothing is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from web3 import Web3
from web3.contract import Contract

from ajo.contract.artifacts import ajo_abi, token_abi
from ajo.engine.rpc import RpcClient
from devtools.anvil import AnvilError, AnvilNode
from devtools.deploy import deploy_contracts


@dataclass(frozen=True)
class DeployedContracts:
    chain_id: int
    ajo: str  # checksummed
    token: str  # checksummed
    block: int
    ajo_contract: Contract
    token_contract: Contract


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    try:
        node = AnvilNode()
    except AnvilError as exc:
        pytest.fail(f"cannot start anvil for chain tests: {exc}", pytrace=False)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def chain_rpc(anvil: AnvilNode) -> Iterator[RpcClient]:
    with RpcClient(anvil.url, max_retries=1) as client:
        yield client


@pytest.fixture(scope="session")
def w3(anvil: AnvilNode) -> Web3:
    return Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 60}))


@pytest.fixture(scope="session")
def deployed(anvil: AnvilNode, w3: Web3) -> DeployedContracts:
    deployment = deploy_contracts(rpc_url=anvil.url)
    return DeployedContracts(
        chain_id=deployment.chain_id,
        ajo=deployment.ajo,
        token=deployment.token,
        block=deployment.block,
        ajo_contract=w3.eth.contract(address=deployment.ajo, abi=ajo_abi()),
        token_contract=w3.eth.contract(address=deployment.token, abi=token_abi()),
    )


@pytest.fixture
def chain_snapshot(chain_rpc: RpcClient, deployed: DeployedContracts) -> Iterator[str]:
    """Undo every chain change the test makes (the deployment itself stays)."""
    snapshot = chain_rpc.call("evm_snapshot")
    try:
        yield snapshot
    finally:
        chain_rpc.call("evm_revert", [snapshot])
        chain_rpc.call("evm_setAutomine", [True])


@pytest.fixture
def chain_settings(settings: Any, anvil: AnvilNode, deployed: DeployedContracts):
    """Point the chain settings at the test node and its deployment; returns the deployment."""
    settings.CHAIN_RPC_URL = anvil.url
    settings.AJO_CONTRACT_ADDRESS = deployed.ajo
    settings.AJO_TOKEN_ADDRESS = deployed.token
    settings.AJO_START_BLOCK = deployed.block
    return deployed
