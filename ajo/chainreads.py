"""The web's chain reads: the RPC client of web requests, the chain head, cache-first group
reads, token metadata and the cache hit/miss counters, behind one guard (deadline, short
circuit breaker, bulkhead).

Counters and chain reads live in the Django cache (Redis when CACHE_URL points at it, so every
web process shares them). A cache outage never fails a read: the error is logged and the
answer is computed without the cache.
"""

import contextlib
import dataclasses
import hashlib
import logging
import math
import threading
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.cache import cache

from ajo.contract.deployment import contract_address
from ajo.contract.reader import (
    ContractReader,
    GroupRead,
    GroupView,
    TokenMetadata,
    read_group_confirmed,
)
from ajo.engine.rpc import RpcClient, RpcError, RpcUnavailable

logger = logging.getLogger(__name__)

HITS_KEY = "ajo:group_reads:hits"
MISSES_KEY = "ajo:group_reads:misses"
HEAD_KEY = "ajo:chain:head"
# How long chain reads are reused: enough that a hammering client does not hammer the node,
# short enough that a new block shows up within one frontend poll.
CHAIN_READ_SECONDS = 5
# The API waits at most this long for the node per attempt (one retry), and CHAIN_READ_DEADLINE
# for one call with its retry: a group read makes at most three calls, well inside gunicorn's
# 30 s timeout, and a node that never answers costs one request 4 s, then trips the breaker.
CHAIN_READ_TIMEOUT = 3.0
CHAIN_READ_DEADLINE = 4.0
# After a chain read failed, web requests do not ask the node again for this long: they answer
# 503 at once with the reason (one RPC per few seconds however many requests come).
CHAIN_FAILURE_SECONDS = 5
# Requests of one process that may wait on the node at once. gunicorn runs each worker with
# GUNICORN_THREADS threads (4): the others keep answering /healthz, /readyz and indexed reads
# while these wait on a hung node.
CHAIN_READ_SLOTS = 2

_clients: dict[str, RpcClient] = {}
_clients_lock = threading.Lock()
_chain_read_slots = threading.BoundedSemaphore(CHAIN_READ_SLOTS)


def api_rpc_client() -> RpcClient:
    """One keep-alive client per process and URL, with timeouts fit for a web request."""
    url = settings.CHAIN_RPC_URL
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = RpcClient(
                url,
                timeout=CHAIN_READ_TIMEOUT,
                max_retries=1,
                backoff_max=0.5,
                deadline=CHAIN_READ_DEADLINE,
            )
            _clients[url] = client
    return client


# --- cache hit/miss counters -------------------------------------------------------------------


def cache_stats_record(*, hit: bool) -> None:
    """Count one cache-first group read (hit: the database had it)."""
    key = HITS_KEY if hit else MISSES_KEY
    try:
        try:
            cache.incr(key)
        except ValueError:  # first count since the cache was emptied
            if not cache.add(key, 1, timeout=None):
                cache.incr(key)
    except Exception:
        logger.exception("cannot count a group read in the cache")


def cache_stats() -> dict:
    """{"hits", "misses", "hit_rate" (None before any read), "available" (cache reachable)}."""
    try:
        values = cache.get_many([HITS_KEY, MISSES_KEY])
    except Exception:
        logger.exception("cannot read the group read counters from the cache")
        return {"hits": None, "misses": None, "hit_rate": None, "available": False}
    hits = int(values.get(HITS_KEY) or 0)
    misses = int(values.get(MISSES_KEY) or 0)
    total = hits + misses
    return {
        "hits": hits,
        "misses": misses,
        "hit_rate": round(hits / total, 4) if total else None,
        "available": True,
    }


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception:
        logger.exception("cache unavailable for %s", key)
        return None


def _cache_set(key: str, value, timeout: float) -> None:
    try:
        cache.set(key, value, timeout)
    except Exception:
        logger.exception("cache unavailable for %s", key)


# --- the guard around every node read of a web request -----------------------------------


class ChainReadsPaused(RpcUnavailable):
    """The node was not asked: it failed moments ago, or this process's requests that may wait
    on it all are. `retry_after`: seconds until asking makes sense again."""

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def _failure_key() -> str:
    # Per endpoint; hashed, because an RPC URL may carry an API key.
    url = hashlib.sha256(settings.CHAIN_RPC_URL.encode()).hexdigest()[:16]
    return f"ajo:chain:read_failure:{url}"


@contextlib.contextmanager
def chain_read_guard() -> Iterator[None]:
    """Wraps the node reads a web request makes: a short circuit breaker and a bulkhead.

    - A read that fails (node down, timeout, error answer) is remembered in the cache for
      CHAIN_FAILURE_SECONDS: meanwhile every guarded read raises ChainReadsPaused (a 503 with
      the reason and Retry-After) without a request to the node. With Redis every process and
      replica shares it.
    - At most CHAIN_READ_SLOTS requests of a process wait on the node at once; one more is
      refused at once (503) instead of holding a thread that /healthz and indexed reads need.
    """
    failure = _cache_get(_failure_key())
    if failure is not None:
        now = time.time()
        retry_after = max(1, math.ceil(failure["until"] - now))
        raise ChainReadsPaused(
            f"the node failed {max(0, round(now - failure['at']))}s ago ({failure['reason']});"
            f" not asked again for {retry_after}s",
            retry_after=retry_after,
        )
    if not _chain_read_slots.acquire(blocking=False):
        raise ChainReadsPaused(
            "every chain read of this server is already waiting on the node; try again shortly",
            retry_after=1,
        )
    try:
        yield
    except (RpcUnavailable, RpcError) as exc:
        now = time.time()
        reason = " ".join(str(exc).split())[:300]
        failure = {"reason": reason, "at": now, "until": now + CHAIN_FAILURE_SECONDS}
        _cache_set(_failure_key(), failure, CHAIN_FAILURE_SECONDS)
        exc.retry_after = CHAIN_FAILURE_SECONDS
        raise
    finally:
        _chain_read_slots.release()


# --- chain reads ----------------------------------------------------------------------------


def chain_head_cached() -> dict | None:
    """The head as chain_head last read it (within CHAIN_READ_SECONDS), None if it has not:
    never a request to the node."""
    return _cache_get(HEAD_KEY)


def chain_head(*, max_age: float = CHAIN_READ_SECONDS) -> dict:
    """{"number", "timestamp" (unix), "error"}: the node's latest block, reused for max_age s.

    An unreachable node gives number None and the reason in "error" (also reused, so a down
    node does not cost every request a timeout).
    """
    if max_age > 0:
        cached = _cache_get(HEAD_KEY)
        if cached is not None:
            return cached
    try:
        with chain_read_guard():
            block = api_rpc_client().call("eth_getBlockByNumber", ["latest", False])
        head = {
            "number": int(block["number"], 16),
            "timestamp": int(block["timestamp"], 16),
            "error": None,
        }
    except (RpcUnavailable, RpcError, KeyError, TypeError, ValueError) as exc:
        head = {"number": None, "timestamp": None, "error": str(exc) or type(exc).__name__}
    if max_age > 0:
        _cache_set(HEAD_KEY, head, max_age)
    return head


def chain_group_read(*, group_id: int, max_age: float = 0) -> GroupRead:
    """getGroup + getMembers for one group at head - SYNC_CONFIRMATIONS, the block the sync
    would index (view None when the contract has no such group there, even if a newer block
    has it); see ajo.contract.reader.read_group_confirmed.

    With max_age > 0 the answer (a "no such group" too) is reused from the cache for that
    long. Raises ContractNotConfigured when no contract is configured, RpcUnavailable when the
    node is down.
    """
    contract = contract_address()
    key = f"ajo:chain:group:{contract}:{group_id}:{settings.SYNC_CONFIRMATIONS}"
    if max_age > 0:
        cached = _cache_get(key)
        if cached is not None:
            view = GroupView(**cached["view"]) if cached["view"] else None
            return GroupRead(view, list(cached["members"]), cached["block"], cached["hash"])
    read = read_group_confirmed(
        api_rpc_client(), contract, group_id, confirmations=settings.SYNC_CONFIRMATIONS
    )
    if max_age > 0:
        value = {
            "view": dataclasses.asdict(read.view) if read.view else None,
            "members": read.members,
            "block": read.block_number,
            "hash": read.block_hash,
        }
        _cache_set(key, value, max_age)
    return read


def chain_token_metadata(*, token: str) -> TokenMetadata:
    return ContractReader(api_rpc_client(), contract_address()).token_metadata(token)


def chain_group_count() -> int:
    """The contract's groupCount() at the latest block, reused for CHAIN_READ_SECONDS.

    Group ids are 1..groupCount: an id above it needs no getGroup to be a 404. Read at
    "latest", the newest count there is, so an id below it is never turned away here (the
    group read decides). Raises ContractNotConfigured without a configured contract, and what
    chain_read_guard raises when the node cannot be read.
    """
    contract = contract_address()
    key = f"ajo:chain:group_count:{contract}"
    cached = _cache_get(key)
    if cached is not None:
        return cached
    with chain_read_guard():
        count = ContractReader(api_rpc_client(), contract).group_count()
    _cache_set(key, count, CHAIN_READ_SECONDS)
    return count
