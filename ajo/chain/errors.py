"""Errors the engine shares with the decoders it runs (no Django here: the contract package,
which must not reach the ORM, raises them)."""


class DecodeError(ValueError):
    """A log that claims to be one of ours but does not have the event's layout: the sync
    stops on it with the checkpoint kept, rather than skip an event it cannot read."""
