"""Progress of a sync for people: a bar on a terminal, a plain line every few seconds elsewhere."""

import time
from typing import TextIO


class SyncProgress:
    def __init__(self, stream: TextIO, *, interval: float = 5.0, width: int = 30):
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.interval = interval
        self.width = width
        self.started = time.monotonic()
        self.last_line = 0.0
        self.drawn = False

    def __call__(self, first: int, current: int, target: int, events: int) -> None:
        now = time.monotonic()
        total = max(target - first + 1, 1)
        done = min(current - first + 1, total)
        elapsed = max(now - self.started, 1e-6)
        rate = events / elapsed
        blocks_rate = done / elapsed
        eta = (total - done) / blocks_rate if blocks_rate > 0 else 0.0
        text = (
            f"{done:,}/{total:,} blocks ({done * 100 // total}%) | block {current:,} | "
            f"{events:,} events | {rate:,.0f} events/s | ETA {eta:,.0f}s"
        )
        if self.tty:
            filled = self.width * done // total
            bar = "#" * filled + "." * (self.width - filled)
            self.stream.write(f"\r[{bar}] {text}\x1b[K")
            self.stream.flush()
            self.drawn = True
        elif now - self.last_line >= self.interval or done == total:
            self.stream.write(f"sync: {text}\n")
            self.stream.flush()
            self.last_line = now

    def finish(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
