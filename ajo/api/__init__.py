"""The public read API (DRF) and its shared parts: fields, errors, pagination, status views."""
