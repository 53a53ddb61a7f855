"""Debian's Chromium for the browser tests, launched the way this machine allows (no network
services, no sandbox as root), or skipped with the reason where it is missing."""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        # CI (AJO_REQUIRE_BROWSER=1) must run these; elsewhere they are skipped with the reason.
        reason = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("AJO_REQUIRE_BROWSER"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
