"""The chain layer: JSON-RPC, contract artifacts, the local anvil node and sync machinery."""
