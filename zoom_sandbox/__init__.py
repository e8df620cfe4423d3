"""A local stand-in for Zoom's OAuth, REST API and webhook delivery (issue 3).

Standard library only, and nothing from the portal: the portal and the sandbox meet over HTTP,
so tests against the sandbox check the portal's reading of Zoom against an independent one
built from ../shared/zoom-api-reference.md.

Entry points: ``server.SandboxServer`` (run it), ``testing.running_sandbox`` (pytest helper),
``cli.main`` (``python -m zoom_sandbox`` / ``manage.py zoom_sandbox``).
"""

from .config import AppSpec, SandboxConfig
from .server import SandboxServer

__all__ = ["AppSpec", "SandboxConfig", "SandboxServer"]
