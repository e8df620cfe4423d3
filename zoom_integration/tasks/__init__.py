"""Celery tasks: thin wrappers taking ids, one module per concern; names are routed by prefix."""
