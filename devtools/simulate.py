"""Drives real AjoSavings traffic on an anvil dev chain: groups forming, active and completed.

Fast path: automine off, impersonated accounts (no signing), precomputed calldata, fixed gas,
explicit nonces, `eth_sendTransaction` in JSON-RPC batches, then `evm_mine` with an explicit
timestamp: one block per simulated day, split into blocks of at most 500 transactions (anvil's
pool insert slows down as the pool grows). Every mined block's logs are checked against the
transactions sent (each call made here logs when it succeeds), and the counts returned are
read from those logs, so they are what the chain holds.

Reproducible: the same seed against the same starting chain gives the same transactions,
block timestamps and logs. Within a block, transactions are ordered by a distinct gas price
per transaction (anvil orders its pool by fees), not by arrival.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from eth_abi import encode
from eth_utils import function_abi_to_4byte_selector, keccak, to_checksum_address

from ajo.addresses import InvalidAddress, normalize_address
from ajo.contract.artifacts import (
    AJO_EVENTS,
    EVENT_BY_TOPIC,
    TOPIC_CONTRIBUTION_MADE,
    TOPIC_GROUP_CREATED,
    TOPIC_GROUP_STARTED,
    ajo_abi,
    token_abi,
)
from ajo.engine.rpc import RpcClient, RpcError

DAY = 86_400
MAX_UINT256 = 2**256 - 1

# Fixed gas limits (no estimation); each is well above what the call uses.
GAS_CREATE = 400_000
GAS_JOIN = 200_000
GAS_CONTRIBUTE = 250_000
GAS_APPROVE = 100_000
GAS_MINT_BASE = 100_000
GAS_MINT_EACH = 40_000
MINT_CHUNK = 250
BLOCK_GAS_LIMIT = 4_000_000_000
GAS_PRICE = 10**10  # 10 gwei; the distinct per-transaction increments order each block
ACCOUNT_ETH = 10**22

NAME_PREFIXES = (
    "Lagos Market Women",
    "Balogun Cloth Sellers",
    "Ibadan Traders",
    "Yaba Tech Savers",
    "Kano Textile Guild",
    "Abuja Civil Servants",
    "Onitsha Spare Parts Dealers",
    "Port Harcourt Fishermen",
    "Enugu Teachers Cooperative",
    "Accra Esusu Circle",
    "Ọjà Ọba Savers",
    "Aba Shoemakers",
)
# Whole TUSD units per round; the token has 6 decimals.
AMOUNT_UNITS = (500, 1_000, 2_000, 2_500, 5_000, 10_000, 20_000, 50_000, 100_000, 250_000)
AMOUNT_CENTS = (0, 0, 0, 0, 25, 50, 75, 99)
# Weekly, fortnightly and four-weekly groups. Multiples of a week, created within a few days
# and paying near their deadlines, keep the number of distinct days (so blocks) small:
# anvil 1.7's cost per mined block grows with the size of the state.
FREQUENCY_DAYS = (7, 7, 7, 14, 14, 28)
CREATE_SPREAD_DAYS = 3
JOIN_SPREAD_DAYS = 3
PAY_WINDOW_DAYS = 3  # on-time payments fall in the last days before the deadline; late ones after


class SimulationError(RuntimeError):
    """The simulation cannot run or a transaction failed; the message says why, on one line."""


@dataclass
class SimulationCounts:
    groups: int = 0
    joins: int = 0  # MemberJoined events, including each creator's own join at position 0
    contributions: int = 0
    payouts: int = 0
    completed: int = 0
    late: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class _GroupPlan:
    index: int
    name: str
    amount: int
    frequency_days: int
    stage: str  # "forming", "active" or "run" (runs min(rounds, members) rounds)
    members: list[int]  # account indices; members[0] creates the group
    joined: int
    full_rounds: int
    partial: list[int] = field(default_factory=list)  # payers of the unfinished round
    group_id: int | None = None


@dataclass
class _Action:
    kind: str  # create | join | contribute
    plan: _GroupPlan
    account: int
    round: int = 0  # for contributions


@dataclass
class Simulation:
    """What will be sent, derived only from the arguments (and so reproducible)."""

    plans: list[_GroupPlan]
    accounts: list[str]  # lowercase addresses of the simulated members
    schedule: dict[int, list[_Action]]  # day -> actions mined that day
    token_needs: dict[int, int]  # account index -> raw token units it will pay


def account_address(seed: int, index: int) -> str:
    """A deterministic address for simulated member `index` (no key: used impersonated)."""
    return "0x" + keccak(text=f"ajo-simulation:{seed}:{index}")[-20:].hex()


def plan_simulation(
    *, groups: int, members: int, rounds: int, seed: int, late_ratio: float
) -> Simulation:
    rng = random.Random(seed)
    stages = ["run"] * groups
    n_forming = max(1, round(groups * 0.05)) if groups >= 3 else 0
    n_active = max(1, round(groups * 0.10)) if groups >= 2 else 0
    for i in range(n_forming):
        stages[i] = "forming"
    for i in range(n_forming, n_forming + n_active):
        stages[i] = "active"
    rng.shuffle(stages)

    pool_size = max(members, groups * members * 3 // 4)
    max_rounds = min(rounds, members)
    whale_done = False
    plans: list[_GroupPlan] = []
    for index, stage in enumerate(stages):
        name = f"{NAME_PREFIXES[index % len(NAME_PREFIXES)]} {index // len(NAME_PREFIXES) + 1}"
        if (stage == "run" and not whale_done) or rng.random() < 0.05:
            # Above 2**64 raw units, so every layer has to keep amounts exact.
            amount = 2**64 + rng.randrange(10**21)
            whale_done = whale_done or stage == "run"
        else:
            amount = rng.choice(AMOUNT_UNITS) * 10**6 + rng.choice(AMOUNT_CENTS) * 10**4
        group_members = rng.sample(range(pool_size), members)
        joined, full_rounds, partial = members, 0, []
        if stage == "forming":
            joined = rng.randint(1, members - 1)
        elif stage == "active":
            if max_rounds >= 1:
                full_rounds = rng.randint(0, max_rounds - 1)
                payers = rng.randint(1, members - 1)
                partial = sorted(rng.sample(group_members, payers), key=group_members.index)
        else:
            full_rounds = max_rounds
        plans.append(
            _GroupPlan(
                index=index,
                name=name,
                amount=amount,
                frequency_days=rng.choice(FREQUENCY_DAYS),
                stage=stage,
                members=group_members,
                joined=joined,
                full_rounds=full_rounds,
                partial=partial,
            )
        )

    schedule: dict[int, list[_Action]] = defaultdict(list)
    needs: Counter[int] = Counter()
    for plan in plans:
        day = rng.randint(0, CREATE_SPREAD_DAYS)
        schedule[day].append(_Action("create", plan, plan.members[0]))
        fill_day = day
        for account in plan.members[1 : plan.joined]:
            join_day = day + rng.randint(1, JOIN_SPREAD_DAYS)
            schedule[join_day].append(_Action("join", plan, account))
            fill_day = max(fill_day, join_day)
        if plan.joined < members:
            continue
        frequency = plan.frequency_days
        last = fill_day  # a round's payments come after the previous round is paid out
        round_payers = [plan.members] * plan.full_rounds
        if plan.partial:
            round_payers.append(plan.partial)
        for number, payers in enumerate(round_payers, start=1):
            deadline = fill_day + number * frequency
            first = last + 1
            days = []
            for account in payers:
                if rng.random() < late_ratio:
                    pay_day = deadline + rng.randint(1, min(PAY_WINDOW_DAYS, frequency // 2))
                else:
                    low = max(first, deadline - PAY_WINDOW_DAYS)
                    pay_day = rng.randint(low, max(low, deadline - 1))
                pay_day = max(pay_day, first)  # never before the previous round is paid out
                days.append(pay_day)
                schedule[pay_day].append(_Action("contribute", plan, account, number))
                needs[account] += plan.amount
            last = max(days)

    used = sorted({i for plan in plans for i in plan.members[: plan.joined]})
    accounts = [""] * pool_size
    for i in used:
        accounts[i] = account_address(seed, i)
    return Simulation(
        plans=plans, accounts=accounts, schedule=dict(schedule), token_needs=dict(needs)
    )


def _selector(abi: list[dict], name: str) -> str:
    item = next(x for x in abi if x.get("type") == "function" and x["name"] == name)
    return "0x" + function_abi_to_4byte_selector(item).hex()


def _uint_word(value: int) -> str:
    return f"{value:064x}"


def _day_timestamp(base: int, day: int) -> int:
    # Somewhere between 08:00 and 18:00 on that day, varied but reproducible.
    return base + day * DAY + 8 * 3600 + (day * 7919) % 36_000


class _Runner:
    def __init__(
        self,
        rpc: RpcClient,
        *,
        ajo: str,
        token: str,
        sim: Simulation,
        seed: int,
        batch_size: int,
        block_txs: int,
        log: Callable[[str], None],
    ):
        self.rpc = rpc
        self.block_txs = block_txs
        self.ajo = ajo
        self.token = token
        self.sim = sim
        self.batch_size = batch_size
        self.log = log
        self.funder = account_address(seed, -1)
        self.nonces: dict[str, int] = {}
        self.counts = SimulationCounts()
        self.events: Counter[str] = Counter()
        self.group_by_tx: dict[str, _GroupPlan] = {}
        self.plan_by_id: dict[int, _GroupPlan] = {}
        self.start_time: dict[int, int] = {}
        self.blocks = 0
        self.transactions = 0
        ajo_functions = ajo_abi()
        self.sel_create = _selector(ajo_functions, "createGroup")
        self.sel_join = _selector(ajo_functions, "joinGroup")
        self.sel_contribute = _selector(ajo_functions, "contribute")
        self.sel_approve = _selector(token_abi(), "approve")
        self.sel_mint_many = _selector(token_abi(), "mintMany")

    # -- transactions -------------------------------------------------------------------------

    def _tx(self, sender: str, to: str, data: str, gas: int, rank: int) -> dict:
        nonce = self.nonces[sender]
        self.nonces[sender] = nonce + 1
        return {
            "from": sender,
            "to": to,
            "data": data,
            "gas": hex(gas),
            "gasPrice": hex(GAS_PRICE + rank),
            "nonce": hex(nonce),
        }

    def _send_and_mine(self, txs: list[dict], labels: list[str], timestamp: int) -> list[dict]:
        """Mine `txs` in blocks of at most `block_txs`, one second apart from `timestamp`.

        anvil's pool insert slows down with the number of pending transactions, so a small
        pool mined often is much faster than one big block.
        """
        receipts: list[dict] = []
        for offset, start in enumerate(range(0, len(txs), self.block_txs)):
            end = start + self.block_txs
            receipts += self._mine_block(txs[start:end], labels[start:end], timestamp + offset)
        return receipts

    def _mine_block(self, txs: list[dict], labels: list[str], timestamp: int) -> list[dict]:
        hashes: list[str] = []
        for start in range(0, len(txs), self.batch_size):
            chunk = txs[start : start + self.batch_size]
            results = self.rpc.batch(
                [("eth_sendTransaction", [tx]) for tx in chunk], return_errors=True
            )
            for offset, result in enumerate(results):
                if isinstance(result, RpcError):
                    raise SimulationError(f"{labels[start + offset]} was refused: {result}")
                hashes.append(result)
        self.rpc.call("evm_setNextBlockTimestamp", [hex(timestamp)])
        self.rpc.call("evm_mine")
        self.blocks += 1
        self.transactions += len(txs)
        # Every call sent here emits at least one log when it succeeds and none when it
        # reverts, so the block's logs prove success; they are much cheaper than receipts.
        logs = self.rpc.call("eth_getLogs", [{"fromBlock": "latest", "toBlock": "latest"}])
        by_hash: dict[str, list[dict]] = defaultdict(list)
        for entry in logs:
            by_hash[entry["transactionHash"]].append(entry)
        for tx_hash, label in zip(hashes, labels, strict=True):
            if tx_hash not in by_hash:
                receipt = self.rpc.call("eth_getTransactionReceipt", [tx_hash])
                if receipt is None:
                    raise SimulationError(
                        f"{label} (tx {tx_hash}) was not mined in its block (block gas limit?)"
                    )
                raise SimulationError(f"{label} reverted (tx {tx_hash})")
        return [{"transactionHash": h, "logs": by_hash[h]} for h in hashes]

    # -- phases -------------------------------------------------------------------------------

    def prepare(self) -> int:
        """Fund, mint and approve in one block; returns that block's timestamp."""
        sim = self.sim
        used = [a for a in sim.accounts if a]
        everyone = [self.funder, *used]
        for start in range(0, len(everyone), self.batch_size):
            chunk = everyone[start : start + self.batch_size]
            self.rpc.batch([("anvil_setBalance", [a, hex(ACCOUNT_ETH)]) for a in chunk])
            counts = self.rpc.batch([("eth_getTransactionCount", [a, "pending"]) for a in chunk])
            self.nonces.update({a: int(n, 16) for a, n in zip(chunk, counts, strict=True)})

        # Mint in buckets (next power of ten of each account's need) so mintMany fits many.
        buckets: dict[int, list[str]] = defaultdict(list)
        for index, need in sorted(sim.token_needs.items()):
            buckets[10 ** len(str(need))].append(sim.accounts[index])
        txs, labels = [], []
        rank = sum(math.ceil(len(v) / MINT_CHUNK) for v in buckets.values()) + len(buckets)
        rank += len(sim.token_needs)
        for amount, holders in sorted(buckets.items()):
            for start in range(0, len(holders), MINT_CHUNK):
                chunk = holders[start : start + MINT_CHUNK]
                data = self.sel_mint_many + encode(["address[]", "uint256"], [chunk, amount]).hex()
                gas = GAS_MINT_BASE + GAS_MINT_EACH * len(chunk)
                txs.append(self._tx(self.funder, self.token, data, gas, rank))
                labels.append("mintMany on the token (is it a TestToken?)")
                rank -= 1
        approve = self.sel_approve + "0" * 24 + self.ajo[2:] + _uint_word(MAX_UINT256)
        for index in sorted(sim.token_needs):
            txs.append(self._tx(sim.accounts[index], self.token, approve, GAS_APPROVE, rank))
            labels.append("approve on the token")
            rank -= 1
        latest = self.rpc.call("eth_getBlockByNumber", ["latest", False])
        timestamp = int(latest["timestamp"], 16) + 1
        self._send_and_mine(txs, labels, timestamp)
        return timestamp

    def play(self, base: int) -> None:
        days = sorted(self.sim.schedule)
        started = time.monotonic()
        for n, day in enumerate(days, start=1):
            actions = self.sim.schedule[day]
            txs, labels = [], []
            rank = len(actions)
            for action in actions:
                plan = action.plan
                sender = self.sim.accounts[action.account]
                if action.kind == "create":
                    data = (
                        self.sel_create
                        + encode(
                            ["string", "address", "uint256", "uint64", "uint16"],
                            [
                                plan.name,
                                self.token,
                                plan.amount,
                                plan.frequency_days * DAY,
                                len(plan.members),
                            ],
                        ).hex()
                    )
                    gas = GAS_CREATE
                else:
                    selector = self.sel_join if action.kind == "join" else self.sel_contribute
                    data = selector + _uint_word(plan.group_id)
                    gas = GAS_JOIN if action.kind == "join" else GAS_CONTRIBUTE
                txs.append(self._tx(sender, self.ajo, data, gas, rank))
                labels.append(f"{action.kind} by {sender} in group {plan.name!r}")
                rank -= 1
            timestamp = _day_timestamp(base, day)
            receipts = self._send_and_mine(txs, labels, timestamp)
            for action, receipt in zip(actions, receipts, strict=True):
                if action.kind == "create":
                    self.group_by_tx[receipt["transactionHash"]] = action.plan
                self._read_logs(receipt, timestamp)
            if n % 50 == 0 or n == len(days):
                self.log(
                    f"day {day}: {n}/{len(days)} blocks, {self.transactions} txs, "
                    f"{self.events['ContributionMade']} contributions, "
                    f"{time.monotonic() - started:.1f}s"
                )

    def _read_logs(self, receipt: dict, timestamp: int) -> None:
        for entry in receipt["logs"]:
            if entry["address"].lower() != self.ajo:
                continue
            topics = entry["topics"]
            name = EVENT_BY_TOPIC.get(topics[0])
            if name is None:
                continue
            self.events[name] += 1
            group_id = int(topics[1], 16)
            if topics[0] == TOPIC_GROUP_CREATED:
                plan = self.group_by_tx[receipt["transactionHash"]]
                plan.group_id = group_id
                self.plan_by_id[group_id] = plan
            elif topics[0] == TOPIC_GROUP_STARTED:
                self.start_time[group_id] = int(entry["data"][2:66], 16)
            elif topics[0] == TOPIC_CONTRIBUTION_MADE:
                round_number = int(topics[3], 16)
                frequency = self.plan_by_id[group_id].frequency_days * DAY
                if timestamp > self.start_time[group_id] + round_number * frequency:
                    self.counts.late += 1

    def finish_counts(self) -> SimulationCounts:
        counts = self.counts
        counts.groups = self.events["GroupCreated"]
        counts.joins = self.events["MemberJoined"]
        counts.contributions = self.events["ContributionMade"]
        counts.payouts = self.events["PayoutSent"]
        counts.completed = self.events["GroupCompleted"]
        return counts


def _checked_address(value: str, what: str) -> str:
    if not value:
        raise SimulationError(f"{what} is not set")
    try:
        return normalize_address(value)
    except InvalidAddress as exc:
        raise SimulationError(f"{what} is not a valid address: {exc}") from None


def validate_arguments(*, groups: int, members: int, rounds: int, late_ratio: float) -> None:
    if groups < 0:
        raise SimulationError(f"--groups must be 0 or more, got {groups}")
    if not 2 <= members <= 65_535:
        raise SimulationError(f"--members must be between 2 and 65535, got {members}")
    if rounds < 0:
        raise SimulationError(f"--rounds must be 0 or more, got {rounds}")
    if not (0.0 <= late_ratio <= 1.0) or math.isnan(late_ratio):
        raise SimulationError(f"--late-ratio must be between 0 and 1, got {late_ratio}")


def run(
    *,
    rpc_url: str,
    ajo_address: str,
    token_address: str,
    groups: int,
    members: int,
    rounds: int,
    seed: int = 0,
    late_ratio: float = 0.1,
    batch_size: int = 500,
    block_txs: int = 500,
    log: Callable[[str], None] = lambda message: None,
) -> SimulationCounts:
    """Send the simulated traffic to `rpc_url` (an anvil node) and count the events it made."""
    validate_arguments(groups=groups, members=members, rounds=rounds, late_ratio=late_ratio)
    ajo = _checked_address(ajo_address, "AJO_CONTRACT_ADDRESS")
    token = _checked_address(token_address, "the token address (--token or AJO_TOKEN_ADDRESS)")

    with RpcClient(rpc_url, max_retries=2, timeout=120.0) as rpc:
        chain_id = rpc.chain_id()
        for address, what in ((ajo, "AJO_CONTRACT_ADDRESS"), (token, "token")):
            if rpc.get_code(address) in ("0x", "0x0", None):
                raise SimulationError(
                    f"{what} {to_checksum_address(address)} has no contract code on chain "
                    f"{chain_id} at {rpc.label} (deploy first: manage.py deploy_contracts)"
                )
        try:
            automine = bool(rpc.call("anvil_getAutomine"))
        except RpcError as exc:
            raise SimulationError(
                f"simulate_chain needs an anvil node; {rpc.label} refused anvil_getAutomine: "
                f"{exc.message}"
            ) from None
        try:
            rpc.call("eth_call", [{"to": ajo, "data": _selector(ajo_abi(), "groupCount")}])
        except RpcError:
            raise SimulationError(
                f"{to_checksum_address(ajo)} does not answer groupCount(): not an AjoSavings"
            ) from None

        sim = plan_simulation(
            groups=groups, members=members, rounds=rounds, seed=seed, late_ratio=late_ratio
        )
        runner = _Runner(
            rpc,
            ajo=ajo,
            token=token,
            sim=sim,
            seed=seed,
            batch_size=batch_size,
            block_txs=block_txs,
            log=log,
        )
        gas_limit = int(rpc.call("eth_getBlockByNumber", ["latest", False])["gasLimit"], 16)
        ok = False
        rpc.call("evm_setAutomine", [False])
        try:
            rpc.call("anvil_autoImpersonateAccount", [True])
            rpc.call("evm_setBlockGasLimit", [hex(max(gas_limit, BLOCK_GAS_LIMIT))])
            started = time.monotonic()
            prepared_at = runner.prepare()
            log(
                f"funded and approved {len(sim.token_needs)} members in {runner.blocks} blocks, "
                f"{time.monotonic() - started:.1f}s"
            )
            # Day 0 starts at the first midnight (UTC) a full day after the funding block.
            base = (prepared_at // DAY + 1) * DAY
            runner.play(base)
            ok = True
        finally:
            if not ok:
                rpc.call("anvil_dropAllTransactions")
            rpc.call("anvil_autoImpersonateAccount", [False])
            rpc.call("evm_setBlockGasLimit", [hex(gas_limit)])
            rpc.call("evm_setAutomine", [automine])
        log(f"{runner.blocks} blocks, {runner.transactions} transactions")
    counts = runner.finish_counts()
    assert set(runner.events) <= set(AJO_EVENTS)
    return counts
