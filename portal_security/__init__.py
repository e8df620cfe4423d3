"""Security for the portal: the hosts it serves, per-tenant staff access and write actions,
two-factor sign-in for staff, and the client address used by login throttling (django-axes)."""
