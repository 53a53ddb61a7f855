"""Shared test fixtures (the anvil node and deployed contracts come from ajo.chain.testing)."""

pytest_plugins: list[str] = []
