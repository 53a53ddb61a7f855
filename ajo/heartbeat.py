"""Tell the server that this worker is alive while one long response is still making progress.

gunicorn's sync workers prove they live by touching a file between requests; the master kills a
worker whose file is older than `timeout` (30 s), which is right for a stuck request and wrong
for a CSV export of a million rows that streams the whole time. `gunicorn.conf.py` registers the
worker's `notify` here; a long response calls `beat()` after each chunk it hands over. Outside
gunicorn (runserver, tests, commands) nothing is registered and `beat()` does nothing.
"""

import time
from collections.abc import Callable

INTERVAL = 1.0  # seconds between two notifications: each one is a utime() on the worker's file

_notify: Callable[[], None] | None = None
_last = 0.0


def register(notify: Callable[[], None] | None) -> None:
    global _notify
    _notify = notify


def beat() -> None:
    """Notify the server, at most once per INTERVAL. Only progress calls it: a response stuck
    in one place (a query, a client that stopped reading) still meets the timeout."""
    global _last
    if _notify is None:
        return
    now = time.monotonic()
    if now - _last >= INTERVAL:
        _last = now
        _notify()
