"""Sandbox settings: world sizes, lifetimes, plan, faults, and the apps to register at start-up.

Everything has a default, so ``SandboxConfig()`` is a usable small world. ``AppSpec.from_json``
reads the ``--apps-json`` / control-API shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

DEFAULT_SCOPES = (
    "meeting:read:admin webinar:read:admin user:read:admin group:read:admin"
    " dashboard_meetings:read:admin dashboard_webinars:read:admin dashboard_home:read:admin"
)


class ConfigError(ValueError):
    """Bad input from a command line, ``--apps-json`` or a control request."""


@dataclass
class AppSpec:
    """One OAuth app as the customer would create it in the Zoom Marketplace (§1.4)."""

    client_id: str = ""
    client_secret: str = ""
    secret_token: str = ""
    verification_token: str = ""  # legacy `authorization` header, §2.2; empty = not sent
    redirect_uris: list[str] = field(default_factory=list)
    event_url: str = ""
    account_id: str = ""
    scopes: str = DEFAULT_SCOPES

    @classmethod
    def from_json(cls, data: Any) -> AppSpec:
        if not isinstance(data, dict):
            raise ConfigError("an app must be a JSON object")
        known = {
            "client_id", "client_secret", "secret_token", "verification_token",
            "redirect_uri", "redirect_uris", "event_url", "account_id", "scopes",
        }
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown app field(s): {', '.join(sorted(unknown))}")
        for key, value in data.items():
            if key == "redirect_uris":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ConfigError("redirect_uris must be a list of strings")
            elif value is not None and not isinstance(value, str):
                raise ConfigError(f"app field {key} must be a string")
        uris = list(data.get("redirect_uris") or [])
        if data.get("redirect_uri"):
            uris.insert(0, data["redirect_uri"])
        return cls(
            client_id=data.get("client_id") or "",
            client_secret=data.get("client_secret") or "",
            secret_token=data.get("secret_token") or "",
            verification_token=data.get("verification_token") or "",
            redirect_uris=uris,
            event_url=data.get("event_url") or "",
            account_id=data.get("account_id") or "",
            scopes=data.get("scopes") or DEFAULT_SCOPES,
        )


def apps_from_json(text: str) -> list[AppSpec]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"--apps-json is not valid JSON: {exc}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ConfigError("--apps-json must be a JSON list of app objects")
    return [AppSpec.from_json(item) for item in data]


@dataclass
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 8100
    seed: int = 1
    # World sizes. Users, participants and QoS samples are generated from indices on demand,
    # so large numbers cost nothing until they are paged through.
    accounts: int = 1
    users: int = 60
    groups: int = 4
    meetings: int = 12
    webinars: int = 3
    max_participants: int = 12
    plan: str = "business"  # free | pro | business; rate-limit presets, dashboard gating (§4, §5)
    apps: list[AppSpec] = field(default_factory=list)
    # Lifetimes, seconds.
    token_ttl: float = 3599  # §1.1 expires_in
    code_ttl: float = 300  # §1.2, 5 minutes
    refresh_ttl: float = 90 * 86400  # §1.2 UNCONFIRMED (15 years or ~90 days): the short one
    page_token_ttl: float = 900  # §3, §4.1: next_page_token lasts 15 minutes
    data_delay: float = 60  # §4.5 "a minute or two" after the meeting ends
    # Webhooks, §2.3.
    retry_factor: float = 1.0  # multiplies the 5/20/60-minute retry schedule
    delivery_timeout: float = 3.0
    # Rate limits, §5: {"Heavy": {"per_second": 2, "per_day": 10}, ...} overrides the preset.
    rate_limits: dict[str, dict[str, int]] = field(default_factory=dict)
    qps_retry_after: bool = False  # §5 documents Retry-After only for the daily limit
    faults: dict[str, Any] = field(default_factory=dict)
    quiet: bool = False
