"""Shared test fixtures: the anvil node and the deployed contracts (ajo.chain.testing)."""

pytest_plugins = ["ajo.chain.testing"]
