"""Zoom webhooks in three stages: `receive` (the view's one call: check, verify, store),
`process` (the task's one call: claim, run, retry, sweep) and `handlers` (event type → service).
"""
