"""Benchmarks of the portal's ingest, sync and metrics paths (issue 8); `python -m bench`."""
