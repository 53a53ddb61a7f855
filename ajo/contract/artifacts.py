"""The compiled contract artifacts (contracts/build/*.json) and the event topics they define."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import event_abi_to_log_topic

BUILD_DIR = Path(__file__).resolve().parents[2] / "contracts" / "build"

AJO_EVENTS = (
    "GroupCreated",
    "MemberJoined",
    "GroupStarted",
    "ContributionMade",
    "PayoutSent",
    "GroupCompleted",
)


@cache
def _artifact(name: str) -> dict[str, Any]:
    path = BUILD_DIR / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"missing contract artifact {path} (run npm ci && npm run build:contracts)"
        ) from None


def ajo_abi() -> list[dict[str, Any]]:
    return _artifact("AjoSavings")["abi"]


def ajo_bytecode() -> str:
    return _artifact("AjoSavings")["bytecode"]


def token_abi() -> list[dict[str, Any]]:
    return _artifact("TestToken")["abi"]


def token_bytecode() -> str:
    return _artifact("TestToken")["bytecode"]


@cache
def event_topics() -> dict[str, str]:
    """Event name -> topic0 (0x-prefixed lowercase hex), computed from the ABI."""
    topics = {
        item["name"]: "0x" + event_abi_to_log_topic(item).hex()
        for item in ajo_abi()
        if item["type"] == "event"
    }
    missing = set(AJO_EVENTS) - topics.keys()
    if missing:
        raise RuntimeError(f"AjoSavings ABI lacks events: {', '.join(sorted(missing))}")
    return topics


TOPIC_GROUP_CREATED = event_topics()["GroupCreated"]
TOPIC_MEMBER_JOINED = event_topics()["MemberJoined"]
TOPIC_GROUP_STARTED = event_topics()["GroupStarted"]
TOPIC_CONTRIBUTION_MADE = event_topics()["ContributionMade"]
TOPIC_PAYOUT_SENT = event_topics()["PayoutSent"]
TOPIC_GROUP_COMPLETED = event_topics()["GroupCompleted"]

# topic0 -> event name, for counting and dispatching raw logs.
EVENT_BY_TOPIC = {topic: name for name, topic in event_topics().items()}
