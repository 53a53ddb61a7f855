"""Test helpers for sync tests: a private anvil with the contracts, and plain transactions.

Sync tests run against their own anvil node (module scope) so that rewinding the chain for a
reorg cannot disturb other tests.
"""

import os
import signal
import subprocess
import sys
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from web3 import Web3

from ajo.contract.artifacts import EVENT_BY_TOPIC, ajo_abi, token_abi, token_bytecode
from ajo.engine.rpc import RpcClient
from contributions.models import Contribution, Payout
from devtools import simulate
from devtools.anvil import AnvilNode
from devtools.deploy import Deployment, deploy_contracts
from groups.models import Group, Membership, Token, User

AMOUNT = 2**65 + 12_345  # above 2**64 so exactness is exercised
DAY = 86_400


@dataclass
class Chain:
    node: AnvilNode
    deployment: Deployment

    def __post_init__(self):
        self.rpc = RpcClient(self.node.url)
        self.w3 = Web3(Web3.HTTPProvider(self.node.url))
        self.ajo = self.w3.eth.contract(address=self.deployment.ajo, abi=ajo_abi())
        self.token = self.w3.eth.contract(address=self.deployment.token, abi=token_abi())
        self.accounts = self.w3.eth.accounts

    @property
    def url(self) -> str:
        return self.node.url

    def send(self, call, sender: str, *, gas: int = 1_000_000) -> dict:
        tx = call.transact({"from": sender, "gas": gas})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx, timeout=30)
        assert receipt["status"] == 1
        return receipt

    def fund(self, *accounts: str) -> None:
        for account in accounts:
            self.send(self.token.functions.mint(account, AMOUNT * 100), account)
            self.send(self.token.functions.approve(self.deployment.ajo, 2**256 - 1), account)

    def deploy_token(self, sender: str, *, symbol: str = "OWN", decimals: int = 18):
        """A TestToken of the sender's own, as anyone can deploy one (it mints to anyone)."""
        factory = self.w3.eth.contract(abi=token_abi(), bytecode=token_bytecode())
        constructor = factory.constructor(f"{symbol} token", symbol, decimals)
        receipt = self.send(constructor, sender, gas=5_000_000)
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=token_abi())

    def create_group(self, creator: str, *, max_members: int = 3, name: str = "Circle") -> int:
        receipt = self.send(
            self.ajo.functions.createGroup(name, self.deployment.token, AMOUNT, DAY, max_members),
            creator,
        )
        event = self.ajo.events.GroupCreated().process_receipt(receipt)[0]
        return event["args"]["groupId"]

    def join(self, group_id: int, member: str) -> dict:
        return self.send(self.ajo.functions.joinGroup(group_id), member)

    def contribute(self, group_id: int, member: str) -> dict:
        return self.send(self.ajo.functions.contribute(group_id), member)

    def snapshot(self) -> str:
        return self.rpc.call("evm_snapshot")

    def revert(self, snapshot_id: str) -> None:
        assert self.rpc.call("evm_revert", [snapshot_id]) is True

    def mine(self, blocks: int = 1) -> None:
        self.rpc.call("anvil_mine", [hex(blocks)])

    def head(self) -> int:
        return self.rpc.block_number()

    def log_counts(self) -> Counter:
        logs = self.rpc.call(
            "eth_getLogs",
            [{"address": self.deployment.ajo, "fromBlock": "0x0", "toBlock": "latest"}],
        )
        return Counter(EVENT_BY_TOPIC[log["topics"][0]] for log in logs)


def start_chain() -> Chain:
    node = AnvilNode()
    try:
        return Chain(node=node, deployment=deploy_contracts(rpc_url=node.url))
    except BaseException:
        node.stop()
        raise


@contextmanager
def private_chain(
    *, groups: int = 0, members: int = 3, rounds: int = 3, seed: int = 0, late_ratio: float = 0.1
):
    """A private anvil with the contracts and, when `groups`, simulated activity; always
    stopped. Module-scoped fixtures wrap it."""
    chain = start_chain()
    try:
        if groups:
            simulate.run(
                rpc_url=chain.url,
                ajo_address=chain.deployment.ajo,
                token_address=chain.deployment.token,
                groups=groups,
                members=members,
                rounds=rounds,
                seed=seed,
                late_ratio=late_ratio,
            )
        yield chain
    finally:
        chain.node.stop()


@contextmanager
def rewound(chain: Chain, settings_fixture):
    """The chain as it is now, rewound afterwards; settings point at it meanwhile."""
    snapshot = chain.snapshot()
    point_settings_at(settings_fixture, chain)
    try:
        yield chain
    finally:
        chain.revert(snapshot)


def point_settings_at(settings_fixture, chain: Chain, *, rpc_url: str | None = None) -> None:
    settings_fixture.CHAIN_RPC_URL = rpc_url or chain.url
    settings_fixture.AJO_CONTRACT_ADDRESS = chain.deployment.ajo
    settings_fixture.AJO_START_BLOCK = chain.deployment.block
    settings_fixture.SYNC_CONFIRMATIONS = 0


def database_snapshot() -> dict:
    """Everything indexed, as plain values without surrogate ids, to compare two runs."""
    return {
        "groups": sorted(
            Group.objects.values_list(
                "id",
                "name",
                "status",
                "member_count",
                "current_round",
                "start_time",
                "next_deadline",
                "total_contributed",
                "total_paid_out",
                "contribution_count",
                "payout_count",
                "paid_this_round",
                "created_block",
                "completed_block",
                "token__address",
                "creator__address",
            )
        ),
        "memberships": sorted(
            Membership.objects.values_list(
                "group_id",
                "user__address",
                "position",
                "joined_block",
                "total_contributed",
                "contribution_count",
                "payout_round",
                "payout_amount",
            )
        ),
        "contributions": sorted(
            Contribution.objects.values_list(
                "tx_hash",
                "log_index",
                "group_id",
                "member__address",
                "round",
                "amount",
                "block_number",
                "block_time",
                "is_late",
            )
        ),
        "payouts": sorted(
            Payout.objects.values_list(
                "tx_hash",
                "log_index",
                "group_id",
                "recipient__address",
                "round",
                "amount",
                "block_number",
            )
        ),
        "users": sorted(
            User.objects.filter(address__isnull=False).values_list(
                "address",
                "total_contributed",
                "total_received",
                "contribution_count",
                "payout_count",
                "group_count",
            )
        ),
        "tokens": sorted(
            Token.objects.values_list(
                "address",
                "symbol",
                "decimals",
                "total_contributed",
                "total_paid_out",
                "contribution_count",
                "group_count",
            )
        ),
    }


def database_url() -> str:
    """DATABASE_URL of the test database, for sync_chain run in a subprocess."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        user = db.get("USER") or "postgres"
        host = db.get("HOST") or "127.0.0.1"
        return f"postgres://{user}@{host}:{db.get('PORT') or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def manage(
    *args: str, chain: Chain, rpc_url: str | None = None, extra_env: dict | None = None, **popen
) -> subprocess.Popen:
    env = {
        **os.environ,
        "SECRET_KEY": "test-only-insecure-key",
        "DJANGO_SETTINGS_MODULE": "ajo.settings",
        "DATABASE_URL": database_url(),
        "CHAIN_RPC_URL": rpc_url or chain.url,
        "AJO_CONTRACT_ADDRESS": chain.deployment.ajo,
        "AJO_START_BLOCK": str(chain.deployment.block),
        "LOG_LEVEL": "INFO",
        **(extra_env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    process.wait(timeout=30)


class OutputWatcher:
    """Collects a subprocess's stderr lines in a thread, so a test can wait for a log line."""

    def __init__(self, process: subprocess.Popen):
        import threading

        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process.stderr,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    @property
    def text(self) -> str:
        self.thread.join(timeout=10)
        return "".join(self.lines)


def tx_hash(receipt) -> str:
    """A receipt's transaction hash as the API takes it (0x and 64 hex digits)."""
    return "0x" + receipt["transactionHash"].hex().removeprefix("0x")
