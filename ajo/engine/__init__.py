"""The indexing engine: JSON-RPC, provider checks, the sync (windows, apply, pipeline,
checkpoint, reorg, loop), the handler registry, the writer lock, tx ingest and verification."""
