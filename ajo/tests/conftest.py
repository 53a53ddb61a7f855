"""The browser tests' Chromium and demo rows, shared by the browser test modules."""

from ajo.tests.test_browser import browser, chain_data  # noqa: F401
