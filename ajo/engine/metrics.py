"""The sync worker's Prometheus metrics, updated by the sync loop and served on --metrics-port.

Module-level objects: import them and call `.set()` / `.inc()`. A standby worker (waiting for
the writer lock) reports `ajo_sync_is_writer 0`, so an alert can tell "no writer" from "lagging".
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, start_http_server

from ajo.engine.checks import KINDS

HEAD_BLOCK = Gauge("ajo_sync_head_block", "Latest block number the RPC node reports.")
INDEXED_BLOCK = Gauge("ajo_sync_indexed_block", "Last block number written to the database.")
LAG_BLOCKS = Gauge("ajo_sync_lag_blocks", "Blocks between the chain head and the indexed block.")
EVENTS = Counter("ajo_sync_events", "Contract events indexed, by event name.", ["event"])
RPC_ERRORS = Counter("ajo_sync_rpc_errors", "JSON-RPC calls that failed (after retries).")
RPC_RETRIES = Counter("ajo_sync_rpc_retries", "JSON-RPC calls retried after a transient error.")
GETLOGS_WINDOW = Gauge(
    "ajo_sync_getlogs_window_blocks", "Current eth_getLogs window in blocks (adapted at run time)."
)
REORGS = Counter("ajo_sync_reorgs", "Chain reorganisations detected and rolled back.")
PROVIDER_REFETCHES = Counter(
    "ajo_sync_provider_refetches",
    "getLogs windows fetched again because the provider's answer failed a check, by check.",
    ["check"],
)
for _kind in KINDS:  # every check shows in a scrape, at 0 until it fails
    PROVIDER_REFETCHES.labels(check=_kind)
BLOOM_FALSE_POSITIVES = Counter(
    "ajo_sync_bloom_false_positives",
    "Blocks whose logsBloom suggested a contract event that a query for that block showed "
    "was not there.",
)
IS_WRITER = Gauge(
    "ajo_sync_is_writer", "1 while this worker holds the writer lock, 0 while it waits as standby."
)
WINDOW_FAILURES = Counter(
    "ajo_sync_window_failures", "Attempts to apply a window that failed (nothing of it written)."
)
WINDOW_FAILING = Gauge(
    "ajo_sync_window_failing", "1 while the sync retries a window it could not apply, else 0."
)
FAILED_BLOCK = Gauge(
    "ajo_sync_failed_block", "First block that fails to apply (while ajo_sync_window_failing is 1)."
)

# Every name a scrape of the sync worker shows (Counters get the `_total` suffix).
METRIC_NAMES = (
    "ajo_sync_head_block",
    "ajo_sync_indexed_block",
    "ajo_sync_lag_blocks",
    "ajo_sync_events_total",
    "ajo_sync_rpc_errors_total",
    "ajo_sync_rpc_retries_total",
    "ajo_sync_getlogs_window_blocks",
    "ajo_sync_reorgs_total",
    "ajo_sync_provider_refetches_total",
    "ajo_sync_bloom_false_positives_total",
    "ajo_sync_is_writer",
    "ajo_sync_window_failures_total",
    "ajo_sync_window_failing",
    "ajo_sync_failed_block",
)


def record_blocks(*, head: int, indexed: int) -> None:
    """Set head, indexed block and the lag between them in one call."""
    HEAD_BLOCK.set(head)
    INDEXED_BLOCK.set(indexed)
    LAG_BLOCKS.set(max(head - indexed, 0))


def start_metrics_server(port: int, host: str | None = None):
    """Serve /metrics (any path, in fact) on host:port in a daemon thread; returns the server.

    host defaults to settings.SYNC_METRICS_HOST (0.0.0.0: inside a container the port is only
    reachable from the compose network unless published). Port 0 picks a free port.
    """
    if host is None:
        from django.conf import settings

        host = getattr(settings, "SYNC_METRICS_HOST", "0.0.0.0")  # noqa: S104
    server, _thread = start_http_server(port, addr=host)
    return server
