"""Interfaces Zoom and browsers call: thin views that parse input, call a service, answer."""
