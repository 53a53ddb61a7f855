"""The sync loop: brings the database to the chain's state at head minus confirmations.

    checkpoint ──► getLogs window [a, b] (prefetched in a thread) ──► decode ──► handlers
                                                                      │
             one transaction: rows + block hashes + checkpoint ◄──────┘
             (PostgreSQL: in a writer thread, while the handlers compute the next window)

Exactness rests on four rules:
- a window's rows and the checkpoint move in one database transaction, so a crash at any
  moment leaves either the whole window or none of it;
- the handlers are idempotent, so a window applied twice changes nothing;
- every window carries the hash its parent block had when the window was fetched; if that
  no longer matches the stored checkpoint hash, the chain reorganised: sync walks back
  through stored block hashes to the common ancestor, reverts everything above it and
  re-indexes;
- only one process writes (ajo.chain.writelock).

Totals that many windows move (each user's and membership's) are not written per window:
the apps roll them up from the stored rows (ajo.chain.handlers.on_roll_up) in the
transaction of the window that ends a catch-up, and every ROLL_UP_EVENTS events on the way.
SyncState.rolled_up_block says how far they go; what a crash or a stop leaves behind is
rolled up when the next catch-up ends, and everything is rolled up before a revert, whose
rebuild reads every remaining row. At the end of every run, and at the chain's tip after
every window, the totals are exact.
"""

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from ajo.addresses import to_checksum
from ajo.chain import handlers, metrics
from ajo.chain.checks import Checked, ProviderLie, check_blooms, check_logs, confirm_suspects
from ajo.chain.errors import DecodeError
from ajo.chain.rpc import RpcClient, RpcError, RpcUnavailable, endpoint_label
from ajo.chain.writelock import WriterLock
from ajo.contract.artifacts import event_topics
from ajo.contract.decode import decode_logs
from ajo.contract.deployment import contract_address
from ajo.db import DeferredWrites, deferred_writes, from_unix
from ajo.models import BlockRecord, SyncState
from groups.runstate import RunCache

logger = logging.getLogger("ajo.sync")

# Provider answers that mean "ask for fewer blocks", across the common node implementations.
_LIMIT_ERROR = re.compile(
    r"too many|limit|range|exceed|too large|response size|max results|more than|"
    r"query timeout|block range|try with this block range",
    re.IGNORECASE,
)
_LIMIT_CODES = {-32005, -32602, -32614}


def is_limit_error(exc: RpcError) -> bool:
    """A getLogs error that means "ask for fewer blocks"."""
    return exc.code in _LIMIT_CODES or bool(_LIMIT_ERROR.search(exc.message))


def _method_missing(result) -> bool:
    """The node does not have this JSON-RPC method (-32601, or a message that says so)."""
    if not isinstance(result, RpcError):
        return False
    text = result.message.lower()
    return result.code == -32601 or any(
        words in text for words in ("not found", "not supported", "does not exist")
    )


def _batch_refused(results: list) -> bool:
    """Every item of a batch failed with a limit or batch error: the batch was too large."""
    return all(
        isinstance(r, RpcError) and (is_limit_error(r) or "batch" in r.message.lower())
        for r in results
    )


_GROW_AFTER = 3  # successful windows before the window doubles again
TARGET_LOGS = 10_000
PROBE_BLOCKS = 8
# During a long catch-up, roll totals up at least this often: they trail the event rows by
# at most this many events, and one roll-up statement stays a bounded amount of work.
ROLL_UP_EVENTS = 500_000
# A provider answer that fails a check is fetched again this many times in all, after a
# backoff that doubles from CHECK_BACKOFF seconds (about 4 s in all: a lagging node catches
# up within a block or two, a load balancer picks another node).
CHECK_TRIES = 5
CHECK_BACKOFF = 0.25


class SyncError(Exception):
    """A reason to stop, phrased for the operator in one line."""


class WindowFailed(SyncError):
    """A window that could not be applied: nothing of it was written, the checkpoint stays.

    `block` and `event` say where it fails when applying it again one block and one event
    kind at a time found the spot (Syncer.find_failure); `event` can also name a step
    ("roll-up"). Without --follow the run stops on it; with --follow it is retried after a
    backoff (see run)."""

    def __init__(
        self,
        *,
        first: int,
        last: int,
        error: BaseException,
        block: int | None = None,
        event: str = "",
    ):
        self.first, self.last, self.block, self.event = first, last, block, event
        self.error = describe_error(error)
        where = ", ".join(
            part for part in (f"block {block}" if block is not None else "", event) if part
        )
        super().__init__(
            f"blocks {first}-{last} could not be applied"
            + (f" ({where})" if where else "")
            + f": {self.error}"
        )


class _RolledBack(Exception):
    """Leaves a trial transaction (Syncer.find_failure), rolling it back."""


def retry_delay(attempt: int, *, base: float, cap: float) -> float:
    """Seconds before retry `attempt` (1, 2, …) of a failed window: base, doubling, at most cap."""
    return min(cap, base * 2 ** min(attempt - 1, 64))


def record_failure(failure: WindowFailed, *, retry_in: float | None) -> None:
    """Keep a failed window where operators look: the sync state (admin, /api/sync/) and the
    worker's metrics. Attempts count up while the same block keeps failing (across runs too);
    the window's commit clears it all (Syncer._close_window)."""
    now = timezone.now()
    block = failure.block if failure.block is not None else failure.first
    try:
        with transaction.atomic():
            state = SyncState.objects.select_for_update().get(pk=1)
            again = state.failure_attempts > 0 and (state.failure_block, state.failure_event) == (
                block,
                failure.event,
            )
            state.failure = state.last_error = str(failure)
            state.failure_block, state.failure_event = block, failure.event[:64]
            state.failure_since = state.failure_since if again else now
            state.failure_attempts = state.failure_attempts + 1 if again else 1
            state.failure_retry_at = None if retry_in is None else now + timedelta(seconds=retry_in)
            state.save(update_fields=[*SyncState.FAILURE_FIELDS, "last_error", "updated_at"])
    except Exception as exc:  # the database that refused the window may refuse this too
        logger.warning("could not record the failure in the sync state: %s", describe_error(exc))
    metrics.WINDOW_FAILURES.inc()
    metrics.WINDOW_FAILING.set(1)
    metrics.FAILED_BLOCK.set(block)


def describe_error(error: BaseException) -> str:
    """An exception in one line: its type and the first line of its message (a database's
    DETAIL lines, with the row's values, stay in the debug log)."""
    lines = str(error).strip().splitlines()
    text = " ".join(lines[0].split()) if lines else ""
    return f"{type(error).__name__}: {text}"[:400] if text else type(error).__name__


@dataclass
class Window:
    first: int
    last: int
    last_hash: str
    last_time: int
    parent_hash: str | None
    blocks: dict[int, str]  # number -> hash of every block with a log, for reorg detection
    block_times: dict[int, int]
    events: dict[str, list]  # decoded, by event name
    count: int

    @property
    def span(self) -> tuple[int, int]:
        return self.first, self.last


@dataclass
class SyncSummary:
    from_block: int | None = None
    to_block: int | None = None
    events: int = 0
    seconds: float = 0.0
    windows: int = 0
    reorgs: int = 0
    applied: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "from_block": self.from_block,
            "to_block": self.to_block,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "windows": self.windows,
            "reorgs": self.reorgs,
        }


def split_window(window: Window, size: int) -> list[Window]:
    """Cut a window with many logs into consecutive parts of about `size` events, at block
    boundaries, so writing the first part starts while later parts wait their turn.

    Each part but the last ends at a block that has logs, whose hash the logs carry; the
    next part's parent check uses it.
    """
    if window.count <= 2 * size:
        return [window]
    by_block: dict[int, dict[str, list]] = {}
    for name, events in window.events.items():
        for event in events:
            by_block.setdefault(event.block_number, {}).setdefault(name, []).append(event)
    parts: list[Window] = []
    start, parent = window.first, window.parent_hash
    pending: dict[str, list] = {}
    count = 0
    blocks = sorted(by_block)
    for index, number in enumerate(blocks):
        for name, events in by_block[number].items():
            pending.setdefault(name, []).extend(events)
            count += len(events)
        if count >= size and index < len(blocks) - 1:
            parts.append(
                Window(
                    first=start,
                    last=number,
                    last_hash=window.blocks[number],
                    last_time=window.block_times[number],
                    parent_hash=parent,
                    blocks={n: h for n, h in window.blocks.items() if start <= n <= number},
                    block_times=window.block_times,
                    events=pending,
                    count=count,
                )
            )
            start, parent, pending, count = number + 1, window.blocks[number], {}, 0
    parts.append(
        Window(
            first=start,
            last=window.last,
            last_hash=window.last_hash,
            last_time=window.last_time,
            parent_hash=parent,
            blocks={n: h for n, h in window.blocks.items() if n >= start},
            block_times=window.block_times,
            events=pending,
            count=count,
        )
    )
    return parts


ProgressCallback = Callable[[int, int, int, int], None]  # (first, current, target, events)


def connect(client: RpcClient | None = None) -> tuple[RpcClient, int, str]:
    """Check the target: reachable node, contract code at the address. Returns (client, chain id,
    contract). Raises SyncError, or ContractNotConfigured without a usable address."""
    contract = contract_address()
    client = client or RpcClient(settings.CHAIN_RPC_URL)
    try:
        chain_id = client.chain_id()
        code = client.get_code(contract)
    except RpcUnavailable as exc:
        raise SyncError(f"cannot reach the chain: {exc}") from None
    except RpcError as exc:
        raise SyncError(f"the node at {endpoint_label(client.url)} refused: {exc}") from None
    if not code or code in ("0x", "0x0"):
        raise SyncError(
            f"no contract code at {to_checksum(contract)} on chain {chain_id} "
            f"({endpoint_label(client.url)}): check AJO_CONTRACT_ADDRESS and CHAIN_RPC_URL"
        )
    return client, chain_id, contract


def ensure_state(*, chain_id: int, contract: str, start_block: int) -> SyncState:
    """The database belongs to one (chain id, contract): refuse any other."""
    state = SyncState.objects.filter(pk=1).first()
    if state is None:
        state, _ = SyncState.objects.get_or_create(
            pk=1,
            defaults={
                "chain_id": chain_id,
                "contract_address": contract,
                "start_block": start_block,
            },
        )
    if state.chain_id != chain_id or state.contract_address != contract:
        raise SyncError(
            f"this database indexes chain {state.chain_id} contract "
            f"{to_checksum(state.contract_address)}, not chain {chain_id} contract "
            f"{to_checksum(contract)}: point DATABASE_URL at another database"
        )
    return state


class Syncer:
    # PostgreSQL: compute each window while the previous one commits (a writer thread)
    pipelined = True

    def __init__(
        self,
        *,
        client: RpcClient,
        chain_id: int,
        contract: str,
        batch_blocks: int,
        confirmations: int,
        progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
        on_window: Callable[["Syncer"], None] | None = None,
    ):
        self.client = client
        self.chain_id = chain_id
        self.contract = contract
        # Start with a short probe rather than the whole configured window: on a dense chain
        # one 2,000-block getLogs can carry 100,000 logs, and nothing could be written while
        # it downloads. Sparse windows double at once until they reach TARGET_LOGS logs.
        self.window_size = max(1, min(batch_blocks, PROBE_BLOCKS))
        self.max_window = max(batch_blocks * 16, 1)
        self._probing = True
        self.confirmations = confirmations
        self.progress = progress
        self.stop = stop or threading.Event()
        self.on_window = on_window
        self.summary = SyncSummary()
        self._successes = 0
        self._head = 0
        self._rpc_seen = (client.retries, client.errors)
        self._narrow_batch = 100  # getLogs by blockHash per batch (see _narrow_logs)
        self._header_by_number: bool | None = None  # eth_getHeaderByNumber? (headers)
        self._serial_until = -1  # windows starting at or below this block go one by one
        self._unrolled = 0  # events committed since the last roll-up
        self._writer: ThreadPoolExecutor | None = None
        self.failed_attempts = 0  # failed attempts at the next window, 0 once one commits

    # -- chain reads -----------------------------------------------------------------------

    def head(self) -> int:
        self._head = self.client.block_number()
        metrics.HEAD_BLOCK.set(self._head)
        return self._head

    def report(self, *, indexed: int | None, applied: dict[str, int] | None = None) -> None:
        """Move the worker's Prometheus metrics (served with --metrics-port)."""
        if indexed is not None:
            metrics.record_blocks(head=max(self._head, indexed), indexed=indexed)
        for name, count in (applied or {}).items():
            if count:
                metrics.EVENTS.labels(event=name).inc(count)
        metrics.GETLOGS_WINDOW.set(self.window_size)
        retries, errors = self.client.retries, self.client.errors
        metrics.RPC_RETRIES.inc(max(retries - self._rpc_seen[0], 0))
        metrics.RPC_ERRORS.inc(max(errors - self._rpc_seen[1], 0))
        self._rpc_seen = (retries, errors)

    def headers(self, numbers: list[int], *, allow_missing: bool = False) -> dict[int, dict]:
        """Block headers in batched requests: eth_getHeaderByNumber where the node has it
        (geth, erigon, reth: about a tenth of a busy block's eth_getBlockByNumber answer,
        which lists every transaction hash), else eth_getBlockByNumber without transactions.
        The first call finds out which; an answer that lacks the method later (a load
        balancer in front of mixed nodes) switches the run to the second."""
        found: dict[int, dict] = {}
        if numbers and self._header_by_number is None:
            self._probe_header_method(numbers[0])
        for start in range(0, len(numbers), 500):
            part = numbers[start : start + 500]
            blocks = self.client.batch(
                [self._header_call(n) for n in part], return_errors=self._header_by_number
            )
            if self._header_by_number:
                if any(_method_missing(b) for b in blocks):
                    self._header_by_number = False
                    blocks = self.client.batch([self._header_call(n) for n in part])
                elif error := next((b for b in blocks if isinstance(b, RpcError)), None):
                    raise error
            for number, block in zip(part, blocks, strict=True):
                if block is None:
                    if allow_missing:
                        continue
                    raise SyncError(f"block {number} is not on the chain (the chain moved back?)")
                found[number] = block
        return found

    def _probe_header_method(self, number: int) -> None:
        try:
            self.client.call("eth_getHeaderByNumber", [hex(number)])
        except RpcError as exc:
            if not _method_missing(exc):
                raise
            self._header_by_number = False
            # the node lacks a method, its answers are not failing: not an RPC error to count
            self._rpc_seen = (self._rpc_seen[0], self._rpc_seen[1] + 1)
        else:
            self._header_by_number = True

    def _header_call(self, number: int) -> tuple[str, list]:
        if self._header_by_number:
            return ("eth_getHeaderByNumber", [hex(number)])
        return ("eth_getBlockByNumber", [hex(number), False])

    def get_logs(self, first: int, last: int) -> list[dict]:
        return self.client.call(
            "eth_getLogs",
            [{"address": self.contract, "fromBlock": hex(first), "toBlock": hex(last)}],
        )

    def fetch_window(self, first: int, target: int, *, pool: Executor | None = None) -> Window:
        """Logs of [first, first + window) with the hashes needed to detect a reorg, checked
        against the window's headers (ajo.chain.checks) before anything is trusted.

        An answer that fails a check is fetched again from scratch, after a short backoff
        (a lagging node catches up, a load balancer sends the next request elsewhere); when
        it still fails after CHECK_TRIES fetches the sync stops with the block and the check,
        before anything of this window is written.
        """
        for attempt in range(1, CHECK_TRIES + 1):
            last, headers, logs = self._fetch_answers(first, target, pool)
            try:
                checked, times, events = self._check_and_decode(first, last, headers, logs, pool)
            except ProviderLie as lie:
                metrics.PROVIDER_REFETCHES.labels(check=lie.kind).inc()
                if attempt == CHECK_TRIES:
                    raise SyncError(
                        f"the answers of {endpoint_label(self.client.url)} for blocks "
                        f"{first}-{last} failed a check {CHECK_TRIES} times in a row: {lie}; "
                        f"nothing from block {first} on was indexed"
                    ) from None
                logger.warning("blocks %d-%d: %s; fetching them again", first, last, lie)
                time.sleep(CHECK_BACKOFF * 2 ** (attempt - 1))
                continue
            break
        self._adapt_window(len(logs), last - first + 1)
        tip = headers[last]
        return Window(
            first=first,
            last=last,
            last_hash=tip["hash"],
            last_time=times[last],
            parent_hash=headers[first - 1]["hash"] if first > 0 else None,
            blocks=checked.hashes,
            block_times=times,
            events=events,
            count=sum(len(items) for items in events.values()),
        )

    def _fetch_answers(
        self, first: int, target: int, pool: Executor | None
    ) -> tuple[int, dict[int, dict], list[dict]]:
        """(last block, headers of first - 1..last, logs of first..last), the window shrunk
        on provider limits.

        Every header of the window, not only those of blocks with logs: the bloom check
        needs each block's logsBloom to see a block left out of the answer, and nothing else
        shows one. They cost one batched request per 500 blocks (small next to the logs on
        a busy contract: the benchmark's ~30-block windows carry 10,000 logs), fetched in
        `pool` while getLogs downloads, so they add no round trip. On a sparse contract's
        widest windows they are the larger part of what the sync downloads (about 1 kB a
        block by eth_getHeaderByNumber, ten times that for a busy block by
        eth_getBlockByNumber); that is the price of noticing an omitted block at all.
        Headers and logs may come from different moments (or nodes): the checks make that
        safe, since a reorg in between shows as a hash or bloom mismatch and the window is
        fetched again.
        """
        while True:
            last = min(first + self.window_size - 1, target)
            numbers = list(range(max(first - 1, 0), last + 1))
            pending = pool.submit(self.headers, numbers, allow_missing=True) if pool else None
            try:
                logs = self.get_logs(first, last)
            except RpcError as exc:
                if pending is not None:
                    wait([pending])
                if is_limit_error(exc) and last > first:
                    self.window_size = max(1, (last - first + 1) // 2)
                    self._successes = 0
                    self._probing = False
                    logger.info(
                        "getLogs limit (%s): window now %d blocks", exc.message, self.window_size
                    )
                    continue
                raise
            if pending is not None:
                headers = pending.result()
            else:
                headers = self.headers(numbers, allow_missing=True)
            return last, headers, logs

    def _check_and_decode(
        self,
        first: int,
        last: int,
        headers: dict[int, dict],
        logs: list,
        pool: Executor | None,
    ) -> tuple[Checked, dict[int, int], dict[str, list]]:
        """The checks of ajo.chain.checks, then the logs decoded while the bloom's suspects
        are confirmed one block each (in `pool`: the confirmation's round trip overlaps the
        decoding). Returns (what the logs say per block, block times, events). Raises
        ProviderLie."""
        if not isinstance(logs, list):
            raise ProviderLie(None, "getLogs answered something other than a list", "malformed")
        for number in range(max(first - 1, 0), last + 1):
            if number not in headers:
                raise ProviderLie(
                    number,
                    "no header for the block (a node behind, or the chain moved back)",
                    "header",
                )
        checked = check_logs(logs, contract=self.contract, first=first, last=last, headers=headers)
        window = {n: h for n, h in headers.items() if n >= first}
        suspects = check_blooms(
            checked, contract=self.contract, headers=window, topics=event_topics().values()
        )
        confirming = None
        if suspects and pool is not None:
            confirming = pool.submit(self._narrow_logs, suspects, window)
        # header times for the blocks with logs and the last one: the headers' hashes were
        # checked, a log's own blockTimestamp only against them
        times = {n: int(headers[n]["timestamp"], 16) for n in checked.hashes}
        times[last] = int(headers[last]["timestamp"], 16)
        # Decoding here, in the fetching thread, overlaps it with the previous window's writes.
        events = decode_logs(logs, times)
        if suspects:
            answers = confirming.result() if confirming else self._narrow_logs(suspects, window)
            false_positives, lie = confirm_suspects(suspects, answers)
            metrics.BLOOM_FALSE_POSITIVES.inc(false_positives)
            if lie is not None:
                raise lie
        return checked, times, events

    def _narrow_logs(
        self, suspects: dict[int, list[str]], headers: dict[int, dict]
    ) -> dict[int, list | RpcError]:
        """getLogs by blockHash (EIP-234) for each suspect block, only the topics its bloom
        suggested: batched (up to 100 a request), and an empty answer for each false
        positive, so a dense bloom (mainnet's) costs little and never stops the sync. A
        provider that limits batches answers a whole batch with one error: smaller ones."""
        numbers = sorted(suspects)
        answers: dict[int, list | RpcError] = {}
        start = 0
        while start < len(numbers):
            part = numbers[start : start + self._narrow_batch]
            calls = [
                (
                    "eth_getLogs",
                    [
                        {
                            "blockHash": headers[n]["hash"],
                            "address": self.contract,
                            "topics": [suspects[n]],
                        }
                    ],
                )
                for n in part
            ]
            results = self.client.batch(calls, return_errors=True)
            if len(part) > 1 and _batch_refused(results):
                self._narrow_batch = max(1, len(part) // 2)
                continue
            answers.update(zip(part, results, strict=True))
            start += len(part)
        return answers

    def _adapt_window(self, logs: int, blocks: int) -> None:
        """After a successful getLogs: aim for windows of about TARGET_LOGS logs (memory stays
        flat, fetching overlaps writing), and grow back after provider limits once a few
        windows in a row went through."""
        self._successes += 1
        if logs > 2 * TARGET_LOGS and blocks > 1:
            self.window_size = max(1, blocks * TARGET_LOGS // logs)
            self._successes = 0
            self._probing = False
        elif self._probing and logs < TARGET_LOGS // 2 and self.window_size < self.max_window:
            self.window_size = min(self.window_size * 2, self.max_window)
        elif (
            self._successes >= _GROW_AFTER
            and logs < TARGET_LOGS
            and self.window_size < self.max_window
        ):
            self.window_size = min(self.window_size * 2, self.max_window)
            self._successes = 0

    def prefetch(self, first: int, target: int) -> Iterator[Window]:
        """Windows from `first` to `target`, fetched one ahead in a thread so that the next
        window's RPC round trips overlap the current window's database writes."""
        slots: queue.Queue = queue.Queue(maxsize=2)
        cancel = threading.Event()

        def produce():
            cursor = first
            try:
                # the headers of each window download while its logs do (see _fetch_answers)
                with ThreadPoolExecutor(1, thread_name_prefix="ajo-sync-headers") as pool:
                    while cursor <= target and not cancel.is_set():
                        window = self.fetch_window(cursor, target, pool=pool)
                        for part in split_window(window, TARGET_LOGS):
                            slots.put(part)
                        cursor = window.last + 1
                slots.put(None)
            except BaseException as exc:  # handed to the consumer, raised there
                slots.put(exc)

        worker = threading.Thread(target=produce, name="ajo-sync-fetch", daemon=True)
        worker.start()
        try:
            while True:
                item = slots.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancel.set()
            while worker.is_alive():  # unblock a producer waiting on a full queue
                try:
                    slots.get_nowait()
                except queue.Empty:
                    worker.join(0.05)

    # -- database writes ---------------------------------------------------------------------

    def _open_window(self, window: Window) -> SyncState | None:
        """First step of a window's transaction: lock the checkpoint and check the window
        continues it. None when the chain reorganised under the checkpoint."""
        if connection.vendor == "postgresql":
            # Safe for an index: a server crash can lose the last commits, never split
            # one, and the checkpoint is in the same transaction; sync redoes them.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        state = SyncState.objects.select_for_update().get(pk=1)
        if window.parent_hash is not None and state.last_block is not None:
            if state.last_block != window.first - 1:
                raise SyncError(
                    f"checkpoint moved to {state.last_block} while this run expected "
                    f"{window.first - 1}: is another writer running?"
                )
            if state.last_block_hash and window.parent_hash != state.last_block_hash:
                return None
        return state

    def _roll_up_due(self, window: Window, target: int) -> bool:
        """Roll totals up in this window's transaction? At the end of the catch-up (so at
        the tip, always) and every ROLL_UP_EVENTS events."""
        self._unrolled += window.count
        if window.last >= target or self._unrolled >= ROLL_UP_EVENTS:
            self._unrolled = 0
            return True
        return False

    def _close_window(self, window: Window, state: SyncState, *, roll_up: bool) -> bool:
        """Last step of a window's transaction: rows stored ahead settled, roll-up if due,
        block hashes, checkpoint. True when settling changed rows the run may have cached."""
        settled = handlers.checkpoint_reached(window.last)
        if roll_up:
            roll_up_through(state, window.last)
        records = dict(window.blocks)
        records[window.last] = window.last_hash
        BlockRecord.objects.bulk_create(
            [
                BlockRecord(number=n, hash=h, timestamp=from_unix(window.block_times[n]))
                for n, h in records.items()
            ],
            update_conflicts=True,
            unique_fields=["number"],
            update_fields=["hash", "timestamp"],
            batch_size=1000,
        )
        state.last_block = window.last
        state.last_block_hash = window.last_hash
        state.last_block_time = from_unix(window.last_time)
        state.total_events += window.count
        if state.ahead_block is not None and state.ahead_block <= window.last:
            state.ahead_block = None
        if state.failure_attempts:
            state.clear_failure()  # a window that failed before has landed
        state.save()
        return settled

    def write_window(self, window: Window, *, roll_up: bool) -> dict[str, int] | None:
        """Apply one window atomically. Returns {event name: rows applied}, or None on a
        reorg. Raises WindowFailed, with the block and event kind that fail, when a handler
        or the database refuses it (nothing of it is written)."""
        try:
            with transaction.atomic():
                state = self._open_window(window)
                if state is None:
                    return None
                if state.ahead_block is not None and state.ahead_block >= window.first:
                    # rows ingested through the API ahead of the sync: replaced by this window's
                    revert_rows_above(state, window.first - 1)
                applied = handlers.apply_events(window.events)
                settled = self._close_window(window, state, roll_up=roll_up)
        except SyncError:
            raise
        except Exception as exc:
            RunCache.clear()  # the run's copies may hold what never landed
            logger.debug("window %d-%d failed", *window.span, exc_info=exc)
            self._serial_until = max(self._serial_until, window.first)  # retried on its own
            found = self.find_failure(window, roll_up=roll_up)
            if found is None:
                raise WindowFailed(first=window.first, last=window.last, error=exc) from exc
            block, event, error = found
            raise WindowFailed(
                first=window.first, last=window.last, block=block, event=event, error=error
            ) from exc
        if settled:
            RunCache.clear()
        return applied

    def find_failure(self, window: Window, *, roll_up: bool) -> tuple[int, str, Exception] | None:
        """Where a window fails: applied again one block and one event kind at a time (each
        kind in the handlers' order, then the roll-up when the window had one), in a
        transaction that is always rolled back. Returns the first (block, event kind or
        "roll-up", error), or None when every part went through (the failure was not in one
        part, or did not happen again). Runs only after a failure: it costs a few queries per
        block and kind."""
        by_block: dict[int, dict[str, list]] = {}
        for name, events in window.events.items():
            for event in events:
                by_block.setdefault(event.block_number, {}).setdefault(name, []).append(event)
        found: tuple[int, str, Exception] | None = None
        try:
            with transaction.atomic():
                state = self._open_window(window)
                if state is None:
                    raise _RolledBack
                if state.ahead_block is not None and state.ahead_block >= window.first:
                    revert_rows_above(state, window.first - 1)
                for number in sorted(by_block):
                    for name in handlers.event_names():
                        if by_block[number].get(name):
                            try:
                                handlers.apply_events({name: by_block[number][name]})
                            except Exception as exc:
                                found = (number, name, exc)
                                raise _RolledBack from exc
                    if roll_up:
                        try:
                            roll_up_through(state, number)
                        except Exception as exc:
                            found = (number, "roll-up", exc)
                            raise _RolledBack from exc
                raise _RolledBack
        except _RolledBack:
            pass
        except Exception as exc:  # the trial itself could not run (the database went away, …)
            logger.debug("could not apply window %d-%d block by block", *window.span, exc_info=exc)
        finally:
            RunCache.clear()
        return found

    def plan_window(self, window: Window) -> tuple[dict[str, int], DeferredWrites]:
        """Run the handlers with their writes recorded, not sent (see ajo.db.deferred_writes):
        pure computation on this thread's connection while the writer commits the previous
        window on its own."""
        with deferred_writes() as writes:
            applied = handlers.apply_events(window.events)
        return applied, writes

    def commit_planned(self, window: Window, writes: DeferredWrites, *, roll_up: bool) -> str:
        """The writer thread: run a planned window's writes in its transaction. Returns
        "done", "reorg" (the chain moved under the checkpoint), "redo" (the plan cannot
        stand: rows were ingested ahead meanwhile, or another writer stored a row first) or
        "replan" (committed, but settling rows read ahead of the sync changed rows the next
        window's plan may have read)."""
        try:
            with transaction.atomic():
                state = self._open_window(window)
                if state is None:
                    return "reorg"
                if state.ahead_block is not None and state.ahead_block >= window.first:
                    return "redo"
                writes.run()
                settled = self._close_window(window, state, roll_up=roll_up)
        except IntegrityError as exc:
            logger.info("window %d-%d conflicted (%s): computing it again", *window.span, exc)
            return "redo"
        except SyncError:
            raise
        except Exception as exc:
            # Written again without the pipeline, where a failure that stays is found and
            # reported (write_window).
            logger.info(
                "window %d-%d failed (%s): writing it on its own",
                *window.span,
                describe_error(exc),
            )
            return "redo"
        return "replan" if settled else "done"

    def find_ancestor(self, state: SyncState) -> tuple[int, str]:
        """Highest stored block whose hash the chain still has."""
        candidates = BlockRecord.objects.filter(number__lte=state.last_block).order_by("-number")
        offset = 0
        while True:
            chunk = list(candidates[offset : offset + 64].values_list("number", "hash"))
            if not chunk:
                return state.start_block - 1, ""
            chain = self.headers([number for number, _ in chunk], allow_missing=True)
            for number, stored_hash in chunk:
                if number in chain and chain[number]["hash"] == stored_hash:
                    return number, stored_hash
            offset += 64

    def handle_reorg(self) -> None:
        state = SyncState.objects.get(pk=1)
        ancestor, _ = self.find_ancestor(state)
        depth = state.last_block - ancestor
        logger.warning(
            "reorg: block %s changed; reverting %d blocks to common ancestor %s",
            state.last_block,
            depth,
            ancestor,
        )
        with transaction.atomic():
            state = rewind_checkpoint(to_block=ancestor)
            state.reorg_count += 1
            state.last_reorg_at = timezone.now()
            state.last_reorg_depth = depth
            state.save()
        self.summary.reorgs += 1
        metrics.REORGS.inc()
        self.report(indexed=state.last_block)

    def checkpoint_is_canonical(self, state: SyncState) -> bool:
        if state.last_block is None or not state.last_block_hash:
            return True
        header = self.headers([state.last_block], allow_missing=True).get(state.last_block)
        return header is not None and header["hash"] == state.last_block_hash

    # -- the loop ------------------------------------------------------------------------------

    def catch_up(self, to_block: int | None) -> None:
        """Index from the checkpoint to head - confirmations (or to_block), once."""
        head = self.head()
        target = head - self.confirmations
        if to_block is not None:
            target = min(target, to_block)
        state = SyncState.objects.get(pk=1)
        SyncState.objects.filter(pk=1).update(head_block=head, head_seen_at=timezone.now())
        self.report(indexed=state.last_block)
        if not self.checkpoint_is_canonical(state):
            self.handle_reorg()
            state = SyncState.objects.get(pk=1)
        first = state.start_block if state.last_block is None else state.last_block + 1
        if self.summary.from_block is None:
            self.summary.from_block = first
        if first > target:
            self.summary.to_block = state.last_block
            return
        # The writer thread has a connection of its own: it cannot see the rows of a
        # transaction the caller holds open around the sync (the tests do), so not then.
        if self.pipelined and connection.vendor == "postgresql" and not connection.in_atomic_block:
            return self._catch_up_pipelined(first, target, to_block)
        for window in self.prefetch(first, target):
            applied = self.write_window(window, roll_up=self._roll_up_due(window, target))
            if applied is None:
                self.handle_reorg()
                return self.catch_up(to_block)
            self._committed(window, applied, first, target)
            if self.stop.is_set():
                return None
        return None

    def _committed(self, window: Window, applied: dict[str, int], first: int, target: int) -> None:
        """After a window's commit: summary, metrics, progress and the after-window hooks."""
        self.failed_attempts = 0
        metrics.WINDOW_FAILING.set(0)  # (a failure recorded by an earlier run too)
        for name, count in applied.items():
            self.summary.applied[name] = self.summary.applied.get(name, 0) + count
        self.summary.events += window.count
        self.summary.windows += 1
        self.summary.to_block = window.last
        self.report(indexed=window.last, applied=applied)
        if self.progress:
            self.progress(first, window.last, target, self.summary.events)
        handlers.after_window(self.client, self.contract)
        if self.on_window:
            self.on_window(self)

    def _catch_up_pipelined(self, first: int, target: int, to_block: int | None) -> None:
        """The catch-up loop with a writer thread (PostgreSQL): window n+1's writes are
        computed while window n commits on the writer's own connection.

        Exactness holds because nothing computed for n+1 reads what n writes: the windows
        cover disjoint block ranges, and every row n creates or changes is in the run's
        caches (ids allocated up front, groups shared, see groups.runstate). Whatever could
        break that makes the writer answer "reorg" or "redo" (rows ingested ahead of the sync
        in that window included); the planned window is dropped, the caches cleared, and the
        loop starts again from the committed checkpoint, the window that conflicted written
        without the pipeline.
        """
        in_flight: tuple[Window, dict, Future] | None = None
        if self._writer is None:  # kept for the whole run (--follow calls this every poll)
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ajo-sync-write")
        writer = self._writer

        def settle() -> str:
            """Wait for the window in flight; account for it once committed."""
            nonlocal in_flight
            window, applied, future = in_flight
            in_flight = None
            outcome = future.result()
            if outcome in ("done", "replan"):
                self._committed(window, applied, first, target)
            return outcome

        outcome = "done"
        try:
            for window in self.prefetch(first, target):
                if window.first <= self._serial_until:
                    if in_flight is not None and (outcome := settle()) != "done":
                        break
                    # a revert in it clears the caches
                    applied = self.write_window(window, roll_up=self._roll_up_due(window, target))
                    if applied is None:
                        outcome = "reorg"
                        break
                    self._committed(window, applied, first, target)
                else:
                    try:
                        applied, writes = self.plan_window(window)
                    except SyncError:
                        raise
                    except Exception as exc:
                        # computed again on its own, where a failure that stays is found
                        # and reported (write_window)
                        logger.info(
                            "window %d-%d failed (%s): writing it on its own",
                            *window.span,
                            describe_error(exc),
                        )
                        if in_flight is None or (outcome := settle()) == "done":
                            outcome = "redo"
                        break
                    if in_flight is not None and (outcome := settle()) != "done":
                        break
                    if self.stop.is_set():
                        RunCache.clear()  # the planned window is dropped
                        return None
                    roll_up = self._roll_up_due(window, target)
                    in_flight = (
                        window,
                        applied,
                        writer.submit(self.commit_planned, window, writes, roll_up=roll_up),
                    )
                    if not writes.barrier:
                        continue  # the next window is computed while this one commits
                    if (outcome := settle()) != "done":
                        break
                if self.stop.is_set():
                    return None
            if in_flight is not None:
                outcome = settle()
        finally:
            if in_flight is not None:  # an error here: let the writer finish, then re-raise
                wait([in_flight[2]])
        if outcome == "done":
            return None
        RunCache.clear()
        if outcome == "replan":
            # go on from the checkpoint just committed, computing from the database
            logger.info("rows read ahead of the sync were settled: computing on from there")
        elif outcome == "reorg":
            self.handle_reorg()
        else:  # "redo": the window after the checkpoint goes without the pipeline
            state = SyncState.objects.get(pk=1)
            checkpoint = state.start_block - 1 if state.last_block is None else state.last_block
            self._serial_until = max(self._serial_until, checkpoint + 1)
        return self.catch_up(to_block)

    def refresh_writer_connection(self) -> None:
        """Between polls of --follow: the writer's connection gets the same health and age
        checks as the main one (close_old_connections, in its own thread)."""
        if self._writer is not None:
            self._writer.submit(close_old_connections).result()

    def close(self) -> None:
        """End of the run: stop the writer thread and close its database connection."""
        if self._writer is not None:
            # resolved in the writer thread: its own connection, not this thread's
            self._writer.submit(lambda: connection.close())
            self._writer.shutdown(wait=True)
            self._writer = None


def run(
    *,
    from_block: int | None = None,
    to_block: int | None = None,
    follow: bool = False,
    poll_interval: float = 2.0,
    batch_blocks: int | None = None,
    confirmations: int | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    client: RpcClient | None = None,
    on_standby: Callable[[], None] | None = None,
    on_window: Callable[[Syncer], None] | None = None,
    reindex_first: bool = False,
    retry_base: float | None = None,
    retry_max: float | None = None,
) -> SyncSummary:
    """Index the contract's events. Raises SyncError with a one-line reason on failure
    (ContractNotConfigured, also one line, when AJO_CONTRACT_ADDRESS is missing or invalid).

    A window that cannot be applied (WindowFailed: a handler or the database refuses it) is
    recorded in the sync state and the metrics either way, nothing of it written. Without
    `follow` the run stops on it at once: exit non-zero, the operator sees why. With `follow`
    the worker stays up and tries it again after `retry_base` seconds, doubling up to
    `retry_max` (settings SYNC_RETRY_*): a failure that goes away (a database restart, a fix
    deployed to the database) costs no restart, and one that stays neither crash-loops the
    worker under its supervisor nor hammers the node. The failure is cleared when the window
    commits."""
    stop = stop or threading.Event()
    started = time.monotonic()
    client, chain_id, contract = connect(client)
    lock = WriterLock()
    syncer = None
    metrics.IS_WRITER.set(0)
    try:
        while not lock.try_acquire():
            if not follow:
                raise SyncError(
                    "another sync_chain is already writing to this database; "
                    "this one would only duplicate its work"
                )
            if on_standby:
                on_standby()
            if stop.wait(poll_interval):
                return SyncSummary(seconds=time.monotonic() - started)
        metrics.IS_WRITER.set(1)
        logger.info("holding the writer lock: indexing %s", to_checksum(contract))
        RunCache.active = RunCache()  # ids and groups seen during this run (cleared on revert)
        syncer = Syncer(
            client=client,
            chain_id=chain_id,
            contract=contract,
            batch_blocks=batch_blocks or settings.SYNC_BATCH_BLOCKS,
            confirmations=settings.SYNC_CONFIRMATIONS if confirmations is None else confirmations,
            progress=progress,
            stop=stop,
            on_window=on_window,
        )
        state = ensure_state(
            chain_id=chain_id,
            contract=contract,
            start_block=settings.AJO_START_BLOCK if from_block is None else from_block,
        )
        if reindex_first:
            reindex()
        if from_block is not None:
            rewind_to(state=state, from_block=from_block)
        SyncState.objects.filter(pk=1).update(last_run_started_at=timezone.now(), last_error="")
        retry_base = settings.SYNC_RETRY_BASE_SECONDS if retry_base is None else retry_base
        retry_max = settings.SYNC_RETRY_MAX_SECONDS if retry_max is None else retry_max
        try:
            while True:
                try:
                    syncer.catch_up(to_block)
                    roll_up_pending()  # after a stop, or what an earlier run left behind
                except WindowFailed as failure:
                    syncer.failed_attempts += 1
                    pause = (
                        retry_delay(syncer.failed_attempts, base=retry_base, cap=retry_max)
                        if follow
                        else None
                    )
                    record_failure(failure, retry_in=pause)
                    reason = f"{failure} (checkpoint kept at block {_checkpoint()})"
                    if pause is None:
                        raise SyncError(reason) from None
                    logger.error(
                        "%s; attempt %d, next in %g s", reason, syncer.failed_attempts, pause
                    )
                else:
                    if not follow or stop.is_set():
                        break
                    pause = poll_interval
                if stop.wait(pause):
                    break
                close_old_connections()
                syncer.refresh_writer_connection()
        except DecodeError as exc:
            _roll_up_after_error()
            raise SyncError(f"{exc} (checkpoint kept at block {_checkpoint()})") from None
        except (RpcUnavailable, RpcError) as exc:
            _roll_up_after_error()
            metrics.RPC_ERRORS.inc()
            SyncState.objects.filter(pk=1).update(last_error=str(exc)[:1000])
            raise SyncError(f"{exc} (checkpoint kept at block {_checkpoint()})") from None
        summary = syncer.summary
        summary.seconds = time.monotonic() - started
        SyncState.objects.filter(pk=1).update(
            last_run_finished_at=timezone.now(), last_run_events=summary.events
        )
        return summary
    finally:
        if syncer is not None:
            syncer.close()
        RunCache.active = None
        lock.release()
        metrics.IS_WRITER.set(0)


def _checkpoint() -> int | None:
    state = SyncState.objects.filter(pk=1).first()
    return state.last_block if state else None


def rewind_to(*, state: SyncState, from_block: int) -> None:
    """--from-block: start there. Re-indexes from there when the database is already past it;
    refuses to leave a gap after the checkpoint."""
    if state.last_block is None:
        SyncState.objects.filter(pk=1).update(start_block=from_block)
        return
    if from_block > state.last_block + 1:
        raise SyncError(
            f"--from-block {from_block} would skip blocks {state.last_block + 1}..{from_block - 1} "
            f"(the database is indexed up to block {state.last_block})"
        )
    if from_block < state.start_block:
        raise SyncError(
            f"--from-block {from_block} is before this database's start block "
            f"{state.start_block}: use sync_chain --reindex to rebuild from an earlier block"
        )
    with transaction.atomic():
        rewind_checkpoint(to_block=from_block - 1)


def reindex() -> None:
    """Forget every chain-derived row and the checkpoint; keep the (chain id, contract) guard."""
    with transaction.atomic():
        state = SyncState.objects.filter(pk=1).first()
        if state is None:
            return
        state = rewind_checkpoint(to_block=state.start_block - 1)
        state.total_events = 0
        state.save()


def roll_up_through(state: SyncState, block_number: int) -> None:
    """Roll the rows of blocks (state.rolled_up_block, block_number] up into the totals (see
    the module docstring). Inside the transaction that saves `state` after."""
    if block_number > state.rolled_up_through:
        handlers.roll_up(after_block=state.rolled_up_through, through_block=block_number)
    state.rolled_up_block = block_number


def roll_up_pending() -> None:
    """Roll up what waits between rolled_up_block and the checkpoint, in a transaction of its
    own: after a stop or a crash (one query when nothing waits, as after a full catch-up).
    Raises WindowFailed (event "roll-up") when the database refuses it."""
    state = SyncState.objects.filter(pk=1).first()
    if state is None or state.waiting_roll_up is None:
        return
    after, through = state.waiting_roll_up
    try:
        with transaction.atomic():
            state = SyncState.objects.select_for_update().get(pk=1)
            if state.waiting_roll_up is not None:
                roll_up_through(state, state.last_block)
                state.save(update_fields=["rolled_up_block", "updated_at"])
    except Exception as exc:
        logger.debug("roll-up of blocks %d-%d failed", after + 1, through, exc_info=exc)
        raise WindowFailed(first=after + 1, last=through, event="roll-up", error=exc) from exc


def _roll_up_after_error() -> None:
    """roll_up_pending on the way out after another error, which stays the one reported."""
    try:
        roll_up_pending()
    except WindowFailed as failure:
        logger.error("%s", failure)


def revert_rows_above(state: SyncState, block_number: int) -> None:
    """Revert every row above `block_number` (state locked). Rows up to the checkpoint are
    rolled up first: the rebuild after a revert reads every remaining row, so none may still
    be waiting for a roll-up. Afterwards everything left is rolled up."""
    if state.last_block is not None:
        roll_up_through(state, state.last_block)
    handlers.revert_above(block_number)
    if state.rolled_up_through > block_number:
        state.rolled_up_block = block_number


def rewind_checkpoint(*, to_block: int) -> SyncState:
    """Revert every row from blocks above `to_block` and move the checkpoint back there (to
    "nothing indexed" below the start block). The one way back, for reorgs, --from-block and
    --reindex alike. Call inside a transaction; returns the locked, saved state."""
    state = SyncState.objects.select_for_update().get(pk=1)
    revert_rows_above(state, to_block)
    BlockRecord.objects.filter(number__gt=to_block).delete()
    # Without a stored hash for that block, the parent check starts with the next window.
    record = BlockRecord.objects.filter(number=to_block).first()
    state.last_block = to_block if to_block >= state.start_block else None
    state.last_block_hash = record.hash if record else ""
    state.last_block_time = record.timestamp if record else None
    state.ahead_block = None  # rows ingested ahead were above `to_block`: reverted too
    state.save()
    return state
