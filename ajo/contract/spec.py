"""AjoSavings as the engine's Source: its configured address, its event types in the order
the contract emits them, their topics and the decoder (ajo/apps.py registers it)."""

from ajo.contract.artifacts import event_topics
from ajo.contract.decode import decode_logs
from ajo.contract.deployment import contract_address
from ajo.contract.events import EVENT_TYPES
from ajo.engine.source import Source


def _topics() -> list[str]:
    return list(event_topics().values())


def ajo_savings() -> Source:
    return Source(
        address=contract_address,
        event_types=tuple(EVENT_TYPES.values()),
        topics=_topics,
        decode_logs=decode_logs,
    )
