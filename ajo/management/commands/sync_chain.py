"""manage.py sync_chain: index the contract's events into the database (see ajo.engine.loop)."""

import gc
import json
import logging
import signal
import sys
import threading
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError

from ajo.contract.deployment import ContractNotConfigured
from ajo.engine import loop, metrics
from ajo.engine.errors import SyncError
from ajo.engine.progress import SyncProgress

logger = logging.getLogger("ajo.sync")


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 3600:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = (
        "Index AjoSavings events from CHAIN_RPC_URL up to head minus confirmations, from the "
        "checkpoint on. --follow keeps going as blocks arrive until SIGINT/SIGTERM."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from-block", type=_non_negative, help="start (or re-index) here")
        parser.add_argument("--to-block", type=_non_negative, help="stop after this block")
        parser.add_argument("--follow", action="store_true", help="keep indexing new blocks")
        parser.add_argument(
            "--poll-interval", type=_seconds, default=2.0, help="seconds between head polls"
        )
        parser.add_argument(
            "--batch-blocks", type=_positive, help="first getLogs window (adapts at run time)"
        )
        parser.add_argument("--confirmations", type=_non_negative, help="blocks behind head")
        parser.add_argument("--json", action="store_true", help="last stdout line: JSON summary")
        parser.add_argument("--metrics-port", type=_positive, help="serve Prometheus metrics")
        parser.add_argument(
            "--reindex", action="store_true", help="forget indexed rows and rebuild from start"
        )
        parser.add_argument("--yes", action="store_true", help="do not ask before --reindex")

    def handle(self, *args, **options):
        if options["reindex"]:
            self._confirm_reindex(assume_yes=options["yes"])
        stop = threading.Event()

        def request_stop(signum, frame):
            logger.info(
                "received %s: stopping after the current batch", signal.Signals(signum).name
            )
            stop.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

        if options["metrics_port"]:
            metrics.start_metrics_server(options["metrics_port"])

        progress = SyncProgress(self.stderr._out)
        standby_said = []

        def on_standby():
            if not standby_said:
                logger.info("another sync_chain holds the writer lock: standing by")
                standby_said.append(True)

        try:
            with _rare_gc():
                summary = loop.run(
                    from_block=options["from_block"],
                    to_block=options["to_block"],
                    follow=options["follow"],
                    poll_interval=options["poll_interval"],
                    batch_blocks=options["batch_blocks"],
                    confirmations=options["confirmations"],
                    progress=None if options["follow"] else progress,
                    stop=stop,
                    on_standby=on_standby,
                    reindex_first=options["reindex"],
                )
        except (SyncError, ContractNotConfigured) as exc:
            progress.finish()
            raise CommandError(str(exc)) from None
        progress.finish()
        if options["json"]:
            self.stdout.write(json.dumps(summary.as_dict()))
        else:
            self.stdout.write(
                f"indexed blocks {summary.from_block}..{summary.to_block}: "
                f"{summary.events:,} events in {summary.seconds:.1f}s"
                + (f", {summary.reorgs} reorg(s) handled" if summary.reorgs else "")
            )

    def _confirm_reindex(self, *, assume_yes: bool) -> None:
        if not assume_yes:
            if not sys.stdin.isatty():
                raise CommandError("--reindex deletes every indexed row: add --yes to confirm")
            answer = input("Delete every indexed row and rebuild from the start block? [y/N] ")
            if answer.strip().lower() not in {"y", "yes"}:
                raise CommandError("reindex cancelled")


@contextmanager
def _rare_gc():
    """The sync allocates millions of short-lived objects (decoded logs, rows) and frees them
    without cycles. With the default thresholds the cyclic collector ran every few hundred
    allocations and walked every live object, Django's included: a third of the decoding
    time. Keep what start-up loaded out of its way and run it rarely, for the sync only (the
    command also runs in-process, from tests and call_command)."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
