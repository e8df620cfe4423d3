"""Admin hardening for the portal (issue 9): per-tenant staff access, optional two-factor
sign-in for staff, and the client address used by login throttling (django-axes)."""
