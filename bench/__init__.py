"""Benchmarks of the portal's ingest, sync and metrics paths; `python -m bench`."""
