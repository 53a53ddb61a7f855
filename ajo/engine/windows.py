"""The fetching side of the sync: windows of logs, their headers and the provider checks.

`WindowFetcher` is a mixin of `ajo.engine.loop.Syncer` (it reads the syncer's client,
contract and window sizing state): head, headers, getLogs, fetch_window with the checks of
ajo.engine.checks, window sizing and the prefetch thread. Methods of one object, so the hot
path pays no extra indirection; the state they share is the syncer's.
"""

import logging
import queue
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor, wait
from dataclasses import dataclass

from ajo.engine import metrics, registry
from ajo.engine.checks import Checked, ProviderLie, check_blooms, check_logs, confirm_suspects
from ajo.engine.errors import SyncError
from ajo.engine.rpc import RpcError, endpoint_label

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
# A provider answer that fails a check is fetched again this many times in all, after a
# backoff that doubles from CHECK_BACKOFF seconds (about 4 s in all: a lagging node catches
# up within a block or two, a load balancer picks another node).
CHECK_TRIES = 5
CHECK_BACKOFF = 0.25


def logs_in_windows(
    client, query: dict, *, first: int, last: int, size: int
) -> Iterator[list[dict]]:
    """The logs matching `query` (address, topics) in blocks first..last, one answer per
    window: windows start at `size` blocks, double while answers come back light (up to 16
    times `size`) and halve on provider limits, so a few groups' logs take a few requests
    and a busy range stays within what the provider answers. For verify_chain's counts."""
    widest = size * 16
    while first <= last:
        end = min(first + size - 1, last)
        try:
            logs = client.call(
                "eth_getLogs", [{**query, "fromBlock": hex(first), "toBlock": hex(end)}]
            )
        except RpcError as exc:
            if is_limit_error(exc) and end > first:
                size = max(1, (end - first + 1) // 2)
                continue
            raise
        yield logs
        if len(logs) < TARGET_LOGS // 2:
            size = min(size * 2, widest)
        first = end + 1


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


class WindowFetcher:
    """Reads windows from the chain (mixed into Syncer, whose __init__ sets the state)."""

    def head(self) -> int:
        self._head = self.client.block_number()
        metrics.HEAD_BLOCK.set(self._head)
        return self._head

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
        against the window's headers (ajo.engine.checks) before anything is trusted.

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
        """The checks of ajo.engine.checks, then the logs decoded while the bloom's suspects
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
        source = registry.source()
        suspects = check_blooms(
            checked, contract=self.contract, headers=window, topics=source.topics()
        )
        confirming = None
        if suspects and pool is not None:
            confirming = pool.submit(self._narrow_logs, suspects, window)
        # header times for the blocks with logs and the last one: the headers' hashes were
        # checked, a log's own blockTimestamp only against them
        times = {n: int(headers[n]["timestamp"], 16) for n in checked.hashes}
        times[last] = int(headers[last]["timestamp"], 16)
        # Decoding here, in the fetching thread, overlaps it with the previous window's writes.
        events = source.decode_logs(logs, times)
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
