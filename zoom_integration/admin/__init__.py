"""Admin for the Zoom side of each tenant, one module per concern."""
