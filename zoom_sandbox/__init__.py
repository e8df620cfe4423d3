"""A local stand-in for Zoom's OAuth, REST API, rate limits and signed webhooks, as of 2026.

Standard library only, and nothing from the portal: the portal and the sandbox meet over HTTP,
so tests against the sandbox check the portal's reading of Zoom against an independent one,
written from Zoom's public documentation and SDK (README.md in this package lists the sources,
the behaviours, the choices made where Zoom is silent, the app options and the control API).

Entry points: ``server.SandboxServer`` (run it), ``testing.running_sandbox`` (pytest helper),
``cli.main`` (``python -m zoom_sandbox`` / ``manage.py zoom_sandbox``).
"""

from .config import AppSpec, SandboxConfig
from .server import SandboxServer

__all__ = ["AppSpec", "SandboxConfig", "SandboxServer"]
