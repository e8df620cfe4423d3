"""Read models for the staff pages: what the admin shows, computed from the database.

`health` (one status per tenant, one query for the whole overview), `checklist` (the customer's
setup steps, ticked off by evidence) and `meetings` (meeting quality lists, QoS series and the
charts). Selectors only: nothing here writes, and nothing returns a secret (credentials are
reported as received or missing, never shown). Pages built on them stay fast with many tenants
and meetings, so per-row facts come from correlated subqueries rather than per-row lookups.
"""
