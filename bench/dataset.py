"""A large, consistent ajo database for benchmarks, built in seconds with COPY.

    python bench/dataset.py [--database-url URL] [--groups N] [--members-per-group M]
                            [--contributions C] [--seed S] [--reuse]

`build_dataset()` drops and recreates the database named in `database_url` (default
`postgres://postgres@127.0.0.1:5432/ajo_bench`), runs the migrations, and fills it the way a
sync of a long-lived contract would have: users, tokens (with symbol and decimals, one without),
groups at every status (forming, active mid-round, completed), memberships in rotation order,
one contribution per member per round with exact amounts (some tokens' amounts are far above
2**64), a payout closing every full round, totals on groups, memberships, users and tokens that
equal the sums of the rows, and the SyncState row. Event positions are realistic:
(block_number, log_index) is unique, a round's payout sits in the same tx as its last
contribution, and a contribution mined after its round's deadline is marked late.

Group sizes vary around `members_per_group` (so the total of memberships is exactly
groups * members_per_group) because a group of m members holds at most m * m contributions;
the requested number of contributions is met exactly unless it exceeds what the groups can hold.
Lateness and group state come from `ajo.contract.rules`, as the sync's; after a build the
database checks of `verify_chain --database-only` (groups/checks.py, contributions/checks.py)
must find nothing, or the build fails with their differences.
The database carries a comment with the parameters and the migrations it was built with, so
`ensure_dataset()` (and `--reuse`) skips the build when an identical dataset is already there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import secrets
import subprocess
import sys
import time
from array import array
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, the project is not
    sys.path.insert(0, str(ROOT))

from ajo.contract import rules  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ajo_bench"

CHAIN_ID = 31337
CONTRACT = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
BASE_TIME = 1_700_000_000  # 2023-11-14: the dataset's block 1_000_000
BASE_BLOCK = 1_000_000
BLOCK_SECONDS = 12
FORMING_SHARE = 0.05
ACTIVE_SHARE = 0.4
LATE_SHARE = 0.05
CITIES = ["Lagos", "Accra", "Ibadan", "Abuja", "Kumasi", "Enugu"]
FREQUENCIES = [86_400, 7 * 86_400, 14 * 86_400, 30 * 86_400]
_MASK256 = 2**256 - 1
_MASK160 = 2**160 - 1
_TX_MULT = 0x9E3779B97F4A7C15F39CC0605CEDC8341082276BF3A27251F86C6A11D0C18E95  # odd: a bijection
_ADDR_MULT = 0xC2B2AE3D27D4EB4F165667B19E3779F9D3A1B6C5  # odd: a bijection on 160 bits

# (symbol, name, decimals, contribution amounts in raw units)
TOKENS = [
    ("USDC", "USD Coin", 6, [10 * 10**6, 25 * 10**6, 50 * 10**6, 100 * 10**6]),
    ("DAI", "Dai Stablecoin", 18, [20 * 10**18, 50 * 10**18, 125 * 10**18 + 5 * 10**17]),
    ("WBTC", "Wrapped BTC", 8, [10**5, 25 * 10**4, 10**6]),
    ("USDT", "Tether USD", 6, [5 * 10**6, 20 * 10**6]),
    # No symbol or decimals (shown in raw units); amounts far above 2**64.
    ("", "", None, [2**128 + 12_345, 3 * 2**150 + 7, 10**60 + 1]),
]


@dataclass(frozen=True)
class DatasetSummary:
    database_url: str
    users: int
    tokens: int
    groups: int
    groups_by_status: dict[str, int]
    memberships: int
    contributions: int
    payouts: int
    late_contributions: int
    last_block: int
    seconds: float


def _address(n: int) -> str:
    return f"0x{((n + 1) * _ADDR_MULT) & _MASK160:040x}"


def _tx_hash(n: int) -> str:
    return f"0x{((n + 1) * _TX_MULT) & _MASK256:064x}"


def _ts(unix: int) -> str:
    return datetime.fromtimestamp(unix, tz=UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def _opt(value) -> str:
    return "\\N" if value is None else str(value)


def _block_of(unix: int) -> int:
    return BASE_BLOCK + (unix - BASE_TIME) // BLOCK_SECONDS


def _block_hash(number: int) -> str:
    return _tx_hash(10**12 + number)


class _LogIndexes:
    """Next free log index per block, so (block_number, log_index) never repeats."""

    def __init__(self) -> None:
        self._next = array("H")

    def take(self, block: int, count: int = 1) -> int:
        offset = block - BASE_BLOCK
        if offset >= len(self._next):
            self._next.extend([0] * (offset - len(self._next) + 1 + 100_000))
        first = self._next[offset]
        self._next[offset] = first + count
        return first


@dataclass
class _Plan:
    group_id: int
    size: int
    max_members: int
    contributions: int  # how many this group holds
    forming: bool


def _plan_groups(rng: random.Random, groups: int, m: int, contributions: int) -> list[_Plan]:
    if m < 2:
        raise ValueError("members_per_group must be at least 2 (a group needs two members)")
    spread = m - 2
    sizes = []
    for _ in range(groups // 2):
        d = rng.randint(-spread, spread)
        sizes += [m + d, m - d]
    if groups % 2:
        sizes.append(m)
    rng.shuffle(sizes)
    forming_count = round(groups * FORMING_SHARE) if groups >= 3 else 0
    forming_ids = set(rng.sample(range(groups), forming_count))
    plans = []
    for index, size in enumerate(sizes):
        forming = index in forming_ids
        plans.append(
            _Plan(
                group_id=index + 1,
                size=size,
                max_members=size + rng.randint(1, 3) if forming else size,
                contributions=0,
                forming=forming,
            )
        )
    running = [p for p in plans if not p.forming]
    active = set(rng.sample(range(len(running)), round(len(running) * ACTIVE_SHARE)))
    for index, plan in enumerate(running):
        cap = plan.size * plan.size
        plan.contributions = rng.randrange(cap) if index in active else cap
    # Meet the requested total exactly: fill active groups up (never to a full group), or
    # empty groups from the back, keeping at least one completed and one active group.
    diff = contributions - sum(p.contributions for p in running)
    if diff > 0:
        for index in sorted(active):
            plan = running[index]
            room = plan.size * plan.size - 1 - plan.contributions
            step = min(room, diff)
            plan.contributions += step
            diff -= step
            if not diff:
                break
    elif diff < 0:
        for plan in reversed(running[2:]):
            step = min(plan.contributions, -diff)
            plan.contributions -= step
            diff += step
            if not diff:
                break
    return plans


def _admin_url(database_url: str) -> tuple[str, str]:
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not name or parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"need a postgres://…/<database> URL, got {database_url!r}")
    return urlunsplit(parts._replace(path="/postgres")), name


def _schema_version() -> str:
    """The migrations on disk: a dataset built before a new migration is built again, so the
    benchmarks always measure the schema as it is (indexes included)."""
    names = sorted(
        f"{path.parent.parent.name}.{path.stem}" for path in ROOT.glob("*/migrations/[0-9]*.py")
    )
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:12]


def _params_comment(params: dict) -> str:
    return "ajo bench dataset " + json.dumps(
        {**params, "schema": _schema_version()}, sort_keys=True
    )


def dataset_matches(*, database_url: str, **params) -> bool:
    """True when `database_url` holds a complete dataset built with exactly these parameters."""
    admin, name = _admin_url(database_url)
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            row = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                [name],
            ).fetchone()
    except psycopg.Error:
        return False
    return bool(row) and row[0] == _params_comment(params)


def _recreate(database_url: str) -> None:
    admin, name = _admin_url(database_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _django_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-key"),
        "DJANGO_SETTINGS_MODULE": "ajo.settings",
    }


def _migrate(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=_django_env(database_url),
        check=True,
    )


class DatasetInvalid(RuntimeError):
    """The built dataset breaks an invariant the sync keeps; its differences, one a line."""

    def __init__(self, differences: list[str]):
        super().__init__(f"{len(differences)} difference(s) in the dataset")
        self.differences = differences


def verify_dataset(database_url: str) -> list[str]:
    """What `verify_chain` checks of the database without a node (`verify_chain
    --database-only`: totals equal the sums of the rows, references, group state from the
    counters), run on the dataset in a process whose Django is configured for it. [] when
    the dataset is one a sync could have written."""
    result = subprocess.run(
        [sys.executable, "manage.py", "verify_chain", "--database-only"],
        cwd=ROOT,
        env=_django_env(database_url),
        capture_output=True,
        text=True,
    )
    if result.returncode == 0:
        return []
    differences = result.stdout.splitlines()
    if not differences:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"could not verify the dataset: {last}")
    return differences


def _copy(cur: psycopg.Cursor, table: str, columns: list[str], lines: Iterator[str]) -> int:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    count = 0
    buffer: list[str] = []
    with cur.copy(statement) as copy:
        for line in lines:
            buffer.append(line)
            count += 1
            if len(buffer) >= 20_000:
                copy.write("".join(buffer))
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))
    return count


CONTRIBUTION_COLUMNS = [
    "id",
    "group_id",
    "member_id",
    "round",
    "amount",
    "tx_hash",
    "log_index",
    "block_number",
    "block_time",
    "is_late",
]
PAYOUT_COLUMNS = [
    "id",
    "group_id",
    "recipient_id",
    "round",
    "amount",
    "tx_hash",
    "log_index",
    "block_number",
    "block_time",
]
GROUP_COLUMNS = [
    "id",
    "name",
    "token_id",
    "creator_id",
    "contribution_amount",
    "frequency",
    "max_members",
    "member_count",
    "status",
    "current_round",
    "start_time",
    "next_deadline",
    "total_contributed",
    "total_paid_out",
    "contribution_count",
    "payout_count",
    "paid_this_round",
    "created_block",
    "created_tx",
    "created_log_index",
    "created_at",
    "started_block",
    "completed_block",
    "completed_at",
    "source",
]
MEMBERSHIP_COLUMNS = [
    "id",
    "group_id",
    "user_id",
    "position",
    "joined_block",
    "joined_tx",
    "joined_log_index",
    "joined_at",
    "total_contributed",
    "contribution_count",
    "payout_round",
    "payout_amount",
]
USER_COLUMNS = [
    "id",
    "password",
    "last_login",
    "is_superuser",
    "username",
    "first_name",
    "last_name",
    "email",
    "is_staff",
    "is_active",
    "date_joined",
    "address",
    "total_contributed",
    "total_received",
    "contribution_count",
    "payout_count",
    "group_count",
    "first_seen_block",
]
TOKEN_COLUMNS = [
    "id",
    "address",
    "symbol",
    "name",
    "decimals",
    "metadata_fetched",
    "total_contributed",
    "total_paid_out",
    "contribution_count",
    "group_count",
]


class _Builder:
    """Generates the rows group by group, streaming contributions into COPY."""

    def __init__(self, rng: random.Random, plans: list[_Plan], user_count: int):
        self.rng = rng
        self.plans = plans
        self.logs = _LogIndexes()
        self.tx_counter = 0
        self.user_count = user_count
        self.user_contributed = [0] * user_count
        self.user_contribution_count = [0] * user_count
        self.user_received = [0] * user_count
        self.user_payout_count = [0] * user_count
        self.user_group_count = [0] * user_count
        self.user_first_block: list[int | None] = [None] * user_count
        self.token_totals = [[0, 0, 0, 0] for _ in TOKENS]  # contributed, paid, count, groups
        self.group_lines: list[str] = []
        self.membership_lines: list[str] = []
        self.payout_lines: list[str] = []
        self.contribution_id = 0
        self.payout_id = 0
        self.membership_id = 0
        self.late = 0
        self.status_counts = {"forming": 0, "active": 0, "completed": 0}
        self.last_time = BASE_TIME

    def _next_tx(self) -> str:
        self.tx_counter += 1
        return _tx_hash(self.tx_counter)

    def contributions(self) -> Iterator[str]:
        rng = self.rng
        for index, plan in enumerate(self.plans):
            yield from self._group(rng, index, plan)

    def _group(self, rng: random.Random, index: int, plan: _Plan) -> Iterator[str]:
        token_index = rng.randrange(len(TOKENS))
        amount = rng.choice(TOKENS[token_index][3])
        frequency = rng.choice(FREQUENCIES)
        members = rng.sample(range(self.user_count), plan.size)
        user_ids = [u + 1 for u in members]
        t = BASE_TIME + index * 600 + rng.randrange(600)
        created_block = _block_of(t)
        created_tx = self._next_tx()
        created_log = self.logs.take(created_block, 2)
        joins = []
        for position, member in enumerate(members):
            if position:
                t += rng.randint(BLOCK_SECONDS, 3600)
                block = _block_of(t)
                tx = self._next_tx()
                log = self.logs.take(block, 2)
            else:  # the creator joins in the creating tx
                block, tx, log = created_block, created_tx, created_log + 1
            joins.append((block, tx, log, t))
            if self.user_first_block[member] is None or block < self.user_first_block[member]:
                self.user_first_block[member] = block
            self.user_group_count[member] += 1
        start_time = None if plan.forming else t
        started_block = None if plan.forming else joins[-1][0]

        size = plan.size
        full_rounds, partial = divmod(plan.contributions, size)
        member_paid = [0] * size
        payout_of: dict[int, tuple[int, int]] = {}  # position -> (round, amount)
        pot = amount * size
        payouts = 0
        completed_block = completed_at = None
        previous = t
        rounds = full_rounds + (1 if partial else 0)
        for round_number in range(1, rounds + 1):
            payers = list(range(size)) if round_number <= full_rounds else None
            if payers is None:
                payers = rng.sample(range(size), partial)
            deadline = rules.round_deadline(
                start_time=start_time, round_number=round_number, frequency=frequency
            )
            opens = max(previous, start_time + (round_number - 1) * frequency)
            times = []
            for _ in payers:
                if rng.random() < LATE_SHARE:
                    times.append(deadline + rng.randint(1, max(frequency // 10, 1)))
                else:
                    times.append(rng.randint(opens, max(deadline, opens)))
            times.sort()
            for k in range(1, len(times)):  # one member's txs never share a block here
                if times[k] < times[k - 1] + BLOCK_SECONDS:
                    times[k] = times[k - 1] + BLOCK_SECONDS
            if times and times[0] <= previous:
                shift = previous + BLOCK_SECONDS - times[0]
                times = [x + shift for x in times]
            rng.shuffle(payers)
            for position, when in zip(payers, times, strict=True):
                block = _block_of(when)
                tx = self._next_tx()
                log = self.logs.take(block, 3)
                late = rules.is_late(
                    block_time=when,
                    start_time=start_time,
                    round_number=round_number,
                    frequency=frequency,
                )
                self.late += late
                self.contribution_id += 1
                member = members[position]
                member_paid[position] += 1
                self.user_contributed[member] += amount
                self.user_contribution_count[member] += 1
                yield (
                    f"{self.contribution_id}\t{plan.group_id}\t{user_ids[position]}\t"
                    f"{round_number}\t{amount}\t{tx}\t{log}\t{block}\t{_ts(when)}\t"
                    f"{'t' if late else 'f'}\n"
                )
            previous = times[-1] if times else previous
            if round_number <= full_rounds:
                # The last payment of a round carries the payout (and maybe the completion).
                recipient = round_number - 1
                self.payout_id += 1
                payouts += 1
                payout_of[recipient] = (round_number, pot)
                member = members[recipient]
                self.user_received[member] += pot
                self.user_payout_count[member] += 1
                self.payout_lines.append(
                    f"{self.payout_id}\t{plan.group_id}\t{user_ids[recipient]}\t{round_number}\t"
                    f"{pot}\t{tx}\t{log + 1}\t{block}\t{_ts(previous)}\n"
                )
                if round_number == size:
                    completed_block, completed_at = block, previous
        self.last_time = max(self.last_time, previous)

        state = rules.group_state_from_counts(
            started_at=start_time,
            completed=completed_block is not None,
            member_count=size,
            max_members=plan.max_members,
            contribution_count=plan.contributions,
            payout_count=payouts,
            frequency=frequency,
        )
        status, current_round = state.status, state.current_round
        next_deadline, paid_this_round = state.next_deadline, state.paid_this_round
        self.status_counts[status] += 1
        totals = self.token_totals[token_index]
        totals[0] += amount * plan.contributions
        totals[1] += pot * payouts
        totals[2] += plan.contributions
        totals[3] += 1
        name = f"{rng.choice(CITIES)} circle {plan.group_id}"
        self.group_lines.append(
            "\t".join(
                [
                    str(plan.group_id),
                    name,
                    str(token_index + 1),
                    str(user_ids[0]),
                    str(amount),
                    str(frequency),
                    str(plan.max_members),
                    str(size),
                    status,
                    str(current_round),
                    _opt(start_time and _ts(start_time)),
                    _opt(next_deadline and _ts(next_deadline)),
                    str(amount * plan.contributions),
                    str(pot * payouts),
                    str(plan.contributions),
                    str(payouts),
                    str(paid_this_round),
                    str(created_block),
                    created_tx,
                    str(created_log),
                    _ts(joins[0][3]),
                    _opt(started_block),
                    _opt(completed_block),
                    _opt(completed_at and _ts(completed_at)),
                    "events",
                ]
            )
            + "\n"
        )
        for position, (block, tx, log, when) in enumerate(joins):
            self.membership_id += 1
            received = payout_of.get(position)
            self.membership_lines.append(
                f"{self.membership_id}\t{plan.group_id}\t{user_ids[position]}\t{position}\t"
                f"{block}\t{tx}\t{log}\t{_ts(when)}\t{amount * member_paid[position]}\t"
                f"{member_paid[position]}\t{_opt(received and received[0])}\t"
                f"{_opt(received and received[1])}\n"
            )

    def users(self) -> Iterator[str]:
        joined = _ts(BASE_TIME)
        for u in range(self.user_count):
            address = _address(u)
            yield (
                f"{u + 1}\t!\t\\N\tf\t{address}\t\t\t\tf\tt\t{joined}\t{address}\t"
                f"{self.user_contributed[u]}\t{self.user_received[u]}\t"
                f"{self.user_contribution_count[u]}\t{self.user_payout_count[u]}\t"
                f"{self.user_group_count[u]}\t{_opt(self.user_first_block[u])}\n"
            )

    def tokens(self) -> Iterator[str]:
        for index, (symbol, name, decimals, _amounts) in enumerate(TOKENS):
            contributed, paid, count, groups = self.token_totals[index]
            yield (
                f"{index + 1}\t{_address(10**9 + index)}\t{symbol}\t{name}\t{_opt(decimals)}\tt\t"
                f"{contributed}\t{paid}\t{count}\t{groups}\n"
            )


def build_dataset(
    *,
    database_url: str = DEFAULT_DATABASE_URL,
    groups: int = 10_000,
    members_per_group: int = 10,
    contributions: int = 1_000_000,
    seed: int = 1,
) -> DatasetSummary:
    """Drop, recreate, migrate and fill the database at `database_url`; see the module doc."""
    params = {
        "groups": groups,
        "members_per_group": members_per_group,
        "contributions": contributions,
        "seed": seed,
    }
    started = time.monotonic()
    rng = random.Random(seed)
    plans = _plan_groups(rng, groups, members_per_group, contributions)
    user_count = max(groups * members_per_group // 4, max(p.size for p in plans) + 1)
    _recreate(database_url)
    _migrate(database_url)
    builder = _Builder(rng, plans, user_count)
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        # Rows are consistent by construction; skipping per-row FK triggers makes COPY faster.
        cur.execute("SET session_replication_role = replica")
        cur.execute("SET synchronous_commit = off")
        contribution_count = _copy(
            cur, "contributions_contribution", CONTRIBUTION_COLUMNS, builder.contributions()
        )
        payout_count = _copy(
            cur, "contributions_payout", PAYOUT_COLUMNS, iter(builder.payout_lines)
        )
        _copy(cur, "groups_token", TOKEN_COLUMNS, builder.tokens())
        _copy(cur, "groups_user", USER_COLUMNS, builder.users())
        _copy(cur, "groups_group", GROUP_COLUMNS, iter(builder.group_lines))
        membership_count = _copy(
            cur, "groups_membership", MEMBERSHIP_COLUMNS, iter(builder.membership_lines)
        )
        last_block = _block_of(builder.last_time)
        cur.execute(
            """
            INSERT INTO ajo_syncstate (id, chain_id, contract_address, start_block, last_block,
                last_block_hash, last_block_time, head_block, head_seen_at, total_events,
                rolled_up_block, reorg_count, last_run_started_at, last_run_finished_at,
                last_run_events, last_error, failure, failure_event, failure_attempts,
                updated_at, generation)
            VALUES (1, %s, %s, %s, %s, %s, %s, %s, now(), %s, %s, 0, now(), now(), 0, '', '', '',
                0, now(), %s)
            """,
            [
                CHAIN_ID,
                CONTRACT,
                BASE_BLOCK,
                last_block,
                _block_hash(last_block),
                datetime.fromtimestamp(builder.last_time, tz=UTC),
                last_block,
                contribution_count + payout_count + membership_count + 2 * groups,
                last_block,  # every total counts every row: nothing waits for a roll-up
                secrets.randbits(63),  # SyncState.generation: what API answers are keyed by
            ],
        )
        for table in (
            "groups_user",
            "groups_token",
            "groups_membership",
            "contributions_contribution",
            "contributions_payout",
            "ajo_syncstate",
        ):
            cur.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({t}, 'id'), "
                    "(SELECT COALESCE(MAX(id), 0) + 1 FROM {i}), false)"
                ).format(t=sql.Literal(table), i=sql.Identifier(table))
            )
        cur.execute("SET session_replication_role = DEFAULT")
        conn.commit()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    # Checked before the comment marks it complete: a wrong dataset is never reused.
    differences = verify_dataset(database_url)
    if differences:
        raise DatasetInvalid(differences)
    with psycopg.connect(database_url, autocommit=True) as conn:
        _, name = _admin_url(database_url)
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(_params_comment(params))
            )
        )
    return DatasetSummary(
        database_url=database_url,
        users=user_count,
        tokens=len(TOKENS),
        groups=groups,
        groups_by_status=builder.status_counts,
        memberships=membership_count,
        contributions=contribution_count,
        payouts=payout_count,
        late_contributions=builder.late,
        last_block=last_block,
        seconds=round(time.monotonic() - started, 1),
    )


def ensure_dataset(*, database_url: str = DEFAULT_DATABASE_URL, **params) -> bool:
    """Build the dataset unless one with the same parameters is there. True when it built."""
    defaults = {"groups": 10_000, "members_per_group": 10, "contributions": 1_000_000, "seed": 1}
    params = {**defaults, **params}
    if dataset_matches(database_url=database_url, **params):
        return False
    build_dataset(database_url=database_url, **params)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--members-per-group", type=int, default=10)
    parser.add_argument("--contributions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="keep an identical existing dataset")
    args = parser.parse_args(argv)
    params = {
        "groups": args.groups,
        "members_per_group": args.members_per_group,
        "contributions": args.contributions,
        "seed": args.seed,
    }
    if args.reuse and dataset_matches(database_url=args.database_url, **params):
        print(json.dumps({"reused": True, "database_url": args.database_url, **params}))
        return 0
    try:
        summary = build_dataset(database_url=args.database_url, **params)
    except DatasetInvalid as exc:
        print(f"dataset.py: {exc}:", *exc.differences, sep="\n", file=sys.stderr)
        return 1
    print(json.dumps(asdict(summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
