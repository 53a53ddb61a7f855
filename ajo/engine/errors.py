"""The engine's errors: one-line reasons for the operator (SyncError, WindowFailed) and the
decoders' DecodeError. No Django here: the contract package, which must not reach the ORM,
raises DecodeError."""


class SyncError(Exception):
    """A reason to stop, phrased for the operator in one line."""


class WindowFailed(SyncError):
    """A window that could not be applied: nothing of it was written, the checkpoint stays.

    `block` and `event` say where it fails when applying it again one block and one event
    kind at a time found the spot (ajo.engine.apply's find_failure); `event` can also name a step
    ("roll-up"). Without --follow the run stops on it; with --follow it is retried after a
    backoff (see ajo.engine.loop.run)."""

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


def describe_error(error: BaseException) -> str:
    """An exception in one line: its type and the first line of its message (a database's
    DETAIL lines, with the row's values, stay in the debug log)."""
    lines = str(error).strip().splitlines()
    text = " ".join(lines[0].split()) if lines else ""
    return f"{type(error).__name__}: {text}"[:400] if text else type(error).__name__


class DecodeError(ValueError):
    """A log that claims to be one of ours but does not have the event's layout: the sync
    stops on it with the checkpoint kept, rather than skip an event it cannot read."""
