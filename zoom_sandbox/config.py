"""Sandbox settings: world sizes, lifetimes, plan, faults, and the apps to register at start-up.

Everything has a default, so ``SandboxConfig()`` is a usable small world. ``AppSpec.from_json``
reads the ``--apps-json`` / control-API shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .scopes import DEFAULT_SCOPES, GRANULAR, KINDS

RETRY_TIMESTAMPS = ("fresh", "original")


class ConfigError(ValueError):
    """Bad input from a command line, ``--apps-json`` or a control request."""


@dataclass
class AppSpec:
    """One OAuth app as the customer would create it in the Zoom Marketplace.

    ``scope_kind`` is "granular" (an app created today, the default) or "classic" (an app
    created before spring 2024). ``scopes`` is what the app was given; empty means every scope
    the portal uses, in the app's scheme. A narrower list tests a missing scope.
    """

    client_id: str = ""
    client_secret: str = ""
    secret_token: str = ""
    # Zoom's retired Verification Token, sent raw in the `authorization` header; empty = not sent.
    verification_token: str = ""
    redirect_uris: list[str] = field(default_factory=list)
    event_url: str = ""
    account_id: str = ""
    scope_kind: str = GRANULAR
    scopes: str = ""

    def __post_init__(self) -> None:
        if self.scope_kind not in KINDS:
            raise ConfigError(f"scope_kind must be one of {', '.join(KINDS)}")
        self.scopes = " ".join(self.scopes.split()) or DEFAULT_SCOPES[self.scope_kind]

    @classmethod
    def from_json(cls, data: Any) -> AppSpec:
        if not isinstance(data, dict):
            raise ConfigError("an app must be a JSON object")
        known = {
            "client_id", "client_secret", "secret_token", "verification_token",
            "redirect_uri", "redirect_uris", "event_url", "account_id", "scopes", "scope_kind",
        }
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown app field(s): {', '.join(sorted(unknown))}")
        for key, value in data.items():
            if key in ("redirect_uris", "scopes") and isinstance(value, list):
                if not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"{key} must be a list of strings")
            elif key == "redirect_uris":
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
            scope_kind=data.get("scope_kind") or GRANULAR,
            scopes=scope_text(data.get("scopes")),
        )


def scope_text(value: str | list[str] | None) -> str:
    """A scope list as Zoom writes it: names separated by single spaces."""
    if isinstance(value, list):
        return " ".join(value)
    return " ".join((value or "").split())


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
    plan: str = "business"  # free | pro | business: rate-limit presets and Dashboard access
    apps: list[AppSpec] = field(default_factory=list)
    # Lifetimes, seconds.
    token_ttl: float = 3599  # the token answer's expires_in
    code_ttl: float = 300  # authorization codes live 5 minutes
    # Zoom's sources disagree (15 years, or about 90 days); the sandbox takes the short one.
    refresh_ttl: float = 90 * 86400
    page_token_ttl: float = 900  # next_page_token lasts 15 minutes
    data_delay: float = 60  # Dashboard data appears "a minute or two" after a meeting ends
    zoom_rooms: int = 8  # Zoom Rooms per account, for the Dashboard's rooms overview
    # Webhooks: Zoom retries 5, 20 and 60 minutes after a failed attempt.
    retry_factor: float = 1.0  # multiplies the 5/20/60-minute retry schedule
    delivery_timeout: float = 3.0
    # Whether a retry is signed with a fresh timestamp or keeps the first attempt's. Zoom does
    # not say; "fresh" is kinder to receivers with a short window, "original" is the hard case.
    retry_timestamp: str = "fresh"
    # Rate limits: {"Heavy": {"per_second": 2, "per_day": 10}, ...} overrides the preset.
    rate_limits: dict[str, dict[str, int]] = field(default_factory=dict)
    qps_retry_after: bool = False  # Zoom documents Retry-After only for the daily limit
    faults: dict[str, Any] = field(default_factory=dict)
    quiet: bool = False
