"""Operations: Prometheus metrics, structured logs with request and task ids, worker liveness.

See docs/operations.md for what is exported, the alert rules and the runbook.
"""
