"""The ``Sandbox`` object (the parts wired together) and its control API under ``/_sandbox/``.

Each control operation is a method, so tests in this process can call it directly and the HTTP
control API is a thin JSON wrapper around the same code. Events that Zoom would send as a result
(meeting.ended, user.*, app_deauthorized) go to every app on the account with an event URL.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from . import webhooks
from .api import RestApi
from .clock import Clock
from .config import AppSpec, ConfigError, SandboxConfig
from .faults import Faults
from .oauth import App, OAuth
from .protocol import Request, Response
from .ratelimit import RateLimiter, limits_for
from .webhooks import Deliverer, Target, envelope
from .world import Account, Meeting, World, iso

DEFAULT_REDIRECT = "http://localhost:8000/adminapi/zoom/oauth/authorize"
TUNABLE = ("data_delay", "token_ttl", "code_ttl", "refresh_ttl", "page_token_ttl",
           "retry_factor", "delivery_timeout", "rate_limits", "qps_retry_after")


class Sandbox:
    def __init__(self, config: SandboxConfig | None = None):
        self.config = config = config or SandboxConfig()
        self.clock = Clock()
        self.world = World(seed=config.seed, accounts=config.accounts, users=config.users,
                           groups=config.groups, meetings=config.meetings,
                           webinars=config.webinars, max_participants=config.max_participants,
                           plan=config.plan)
        self.oauth = OAuth(self.world, self.clock, token_ttl=config.token_ttl,
                           code_ttl=config.code_ttl, refresh_ttl=config.refresh_ttl)
        self.limiter = RateLimiter(self.clock, qps_retry_after=config.qps_retry_after)
        self.faults = Faults(config.faults)
        self.deliverer = Deliverer(retry_factor=config.retry_factor,
                                   timeout=config.delivery_timeout)
        self.api = RestApi(self)
        self.requests: Counter = Counter()
        self.sync_delivery = False  # True: one attempt in the caller's thread (send, scenario)
        limits_for(config.plan, config.rate_limits)  # fail early on a bad override
        # Seeded apps expect a portal on localhost:8000 (CONTRACT.md "Redirect URL").
        default = AppSpec(redirect_uris=[DEFAULT_REDIRECT])
        for spec in config.apps or [default for _ in self.world.accounts]:
            self.register_app(spec)

    @property
    def base_url(self) -> str:
        return self.oauth.base_url

    # -- apps and accounts ----------------------------------------------------------------------

    def register_app(self, spec: AppSpec | dict) -> dict:
        if isinstance(spec, dict):
            spec = AppSpec.from_json(spec)
        return self.oauth.register(dataclasses.replace(spec)).public()

    def apps(self) -> list[dict]:
        return [app.public() for app in self.oauth.apps.values()]

    def _app(self, client_id: str) -> App:
        app = self.oauth.apps.get(client_id or "")
        if app is None:
            raise ConfigError(f"unknown client_id {client_id!r}")
        return app

    def _account(self, account_id: str = "", client_id: str = "") -> Account:
        if client_id:
            return self._app(client_id).account
        if account_id:
            account = self.world.account(account_id)
            if account is None:
                raise ConfigError(f"unknown account_id {account_id!r}")
            return account
        return self.world.first_account()

    def set_account(self, account_id: str, *, plan: str | None = None,
                    dashboard: bool | None = None) -> dict:
        """Plan presets and the Dashboard switch (§4 gating, §5 limits)."""
        account = self._account(account_id)
        if plan is not None:
            limits_for(plan)
            if plan not in ("free", "pro", "business"):
                raise ConfigError("plan must be free, pro or business")
            account.plan = plan
        if dashboard is not None:
            account.dashboard = bool(dashboard)
        return self.account_summary(account)

    def account_summary(self, account: Account) -> dict:
        owner = self.world.user(account, 0) or {}
        return {
            "id": account.id, "plan": account.plan, "dashboard": account.dashboard,
            "owner": {"id": owner.get("id"), "email": owner.get("email")},
            "users": account.total_users - len(account.deleted), "groups": account.groups,
            "meetings": [
                {"kind": m.kind, "uuid": m.uuid, "id": m.id, "ended_at": iso(m.ended_at),
                 "participants": m.participants, "minutes": m.minutes}
                for m in list(account.meetings.values())
            ],
        }

    # -- events ----------------------------------------------------------------------------------

    def _targets(self, account: Account, client_id: str = "") -> list[tuple[App, Target]]:
        apps = [self._app(client_id)] if client_id else self.oauth.apps_of(account.id)
        return [(app, Target(app.spec.event_url, app.spec.secret_token, app.client_id,
                             app.spec.verification_token)) for app in apps if app.spec.event_url]

    def _deliver(self, account: Account, event: dict, client_id: str = "") -> list[int]:
        self.deliverer.retry_factor = self.config.retry_factor
        self.deliverer.timeout = self.config.delivery_timeout
        send = self.deliverer.send_once if self.sync_delivery else self.deliverer.deliver
        return [send(target, event, account.id).id
                for _app, target in self._targets(account, client_id)]

    def sample_event(self, event: str, overrides: dict | None = None,
                     client_id: str = "") -> dict:
        """A realistic event for ``send``, built from the world, with ``overrides`` merged into
        the object (into the payload for app_deauthorized and endpoint.url_validation)."""
        if event not in webhooks.EVENTS:
            raise ConfigError(f"unknown event {event!r}; one of {', '.join(webhooks.EVENTS)}")
        account = self._account(client_id=client_id)
        overrides = overrides or {}
        operator = self._operator(account)
        user = self.world.user(account, 1) or self.world.user(account, 0)
        if event in ("meeting.ended", "webinar.ended"):
            meeting = self.world.end_meeting(account, kind=event.split(".")[0],
                                             now=self.clock.now())
            return envelope(event, account.id,
                            {**self._ended_object(account, meeting), **overrides})
        if event == "user.created":
            obj = {k: user[k] for k in ("id", "first_name", "last_name", "display_name",
                                        "email", "type")}
            return envelope(event, account.id, {**obj, **overrides}, **operator,
                            creation_type="create")
        if event == "user.updated":
            obj = {"id": user["id"], "dept": "Sales", **overrides}
            old = {"id": obj["id"], **{k: user.get(k) for k in obj if k != "id"}}
            message = envelope(event, account.id, obj, **operator,
                               time_stamp=webhooks.now_ms())
            message["payload"]["old_object"] = old
            return message
        if event == "user.deleted":
            obj = {k: user[k] for k in ("id", "first_name", "last_name", "email", "type")}
            return envelope(event, account.id, {**obj, **overrides}, **operator)
        if event == "app_deauthorized":
            return envelope(event, account.id, **{"user_id": operator["operator_id"],
                                                 "client_id": client_id, **overrides})
        return envelope(event, account.id, plainToken=overrides.get("plainToken", ""))

    def send_event(self, *, event: str, client_id: str = "", account_id: str = "",
                   object: dict | None = None, payload: dict | None = None) -> dict:
        """Any event in Zoom's envelope (§2.4), to one app or every app of the account."""
        if event not in webhooks.EVENTS:
            raise ConfigError(f"unknown event {event!r}; one of {', '.join(webhooks.EVENTS)}")
        account = self._account(account_id, client_id)
        if event == "endpoint.url_validation":
            return self.validate_url(client_id, (payload or {}).get("plainToken", ""))
        message = envelope(event, account.id, object, **(payload or {}))
        return {"event": message, "deliveries": self._deliver(account, message, client_id)}

    def end_meeting(self, *, kind: str = "meeting", account_id: str = "", client_id: str = "",
                    participants: int = 5, minutes: int = 30, topic: str = "",
                    meeting_id: int | None = None, uuid: str = "",
                    practice_session: bool | None = None) -> dict:
        """Ends an instance now and sends meeting.ended / webinar.ended (§2.4)."""
        if kind not in ("meeting", "webinar"):
            raise ConfigError("kind must be meeting or webinar")
        account = self._account(account_id, client_id)
        meeting = self.world.end_meeting(
            account, kind=kind, participants=int(participants), minutes=int(minutes),
            topic=topic, meeting_id=int(meeting_id) if meeting_id else None, uuid=uuid,
            now=self.clock.now())
        obj = self._ended_object(account, meeting)
        if practice_session is not None:
            obj["practice_session"] = bool(practice_session)
        message = envelope(f"{kind}.ended", account.id, obj)
        return {"uuid": meeting.uuid, "id": meeting.id, "event": message,
                "deliveries": self._deliver(account, message)}

    def _ended_object(self, account: Account, meeting: Meeting) -> dict:
        host = self.world.user(account, meeting.host_index) or {}
        return {  # §2.4: id is a string here, an integer in REST answers
            "id": str(meeting.id), "uuid": meeting.uuid, "host_id": host.get("id", ""),
            "topic": meeting.topic, "type": 2 if meeting.kind == "meeting" else 5,
            "start_time": iso(meeting.start), "end_time": iso(meeting.end),
            "duration": meeting.minutes, "timezone": host.get("timezone", "UTC"),
        }

    def _operator(self, account: Account) -> dict:
        owner = self.world.user(account, 0) or {}
        return {"operator": owner.get("email", ""), "operator_id": owner.get("id", "")}

    def create_user(self, *, account_id: str = "", client_id: str = "",
                    **fields: Any) -> dict:
        account = self._account(account_id, client_id)
        user = self.world.create_user(account, fields)
        obj = {k: user[k] for k in ("id", "first_name", "last_name", "display_name", "email",
                                    "type")}
        message = envelope("user.created", account.id, obj, **self._operator(account),
                           creation_type="create")  # §2.4 user.created
        return {"user": user, "event": message, "deliveries": self._deliver(account, message)}

    def _locate(self, user_id: str) -> tuple[Account, int]:
        found = self.world.locate_user(user_id)
        if found is None:
            raise ConfigError(f"unknown user id {user_id!r}")
        return found

    def update_user(self, user_id: str, fields: dict, *, old_object: bool = True) -> dict:
        """§2.4 user.updated: a partial object; ``old_object`` is optional (UNCONFIRMED today)."""
        account, index = self._locate(user_id)
        new, old = self.world.update_user(account, index, fields)
        extra: dict[str, Any] = {**self._operator(account), "time_stamp": webhooks.now_ms()}
        if old_object:
            extra["old_object"] = {"id": user_id, **old}
        message = envelope("user.updated", account.id, {"id": user_id, **new}, **extra)
        # envelope() puts object last; Zoom's sample has old_object after object.
        payload = message["payload"]
        if old_object:
            payload["old_object"] = payload.pop("old_object")
        return {"user": self.world.user(account, index), "event": message,
                "deliveries": self._deliver(account, message)}

    def delete_user(self, user_id: str) -> dict:
        account, index = self._locate(user_id)
        user = self.world.user(account, index)
        self.world.delete_user(account, index)
        obj = {k: user[k] for k in ("id", "first_name", "last_name", "email", "type")}
        message = envelope("user.deleted", account.id, obj, **self._operator(account))
        return {"event": message, "deliveries": self._deliver(account, message)}

    def validate_url(self, client_id: str, plain_token: str = "") -> dict:
        """§2.1: sends endpoint.url_validation now and checks the answer."""
        app = self._app(client_id)
        if not app.spec.event_url:
            raise ConfigError(f"app {client_id} has no event_url")
        self.deliverer.timeout = self.config.delivery_timeout
        _app, target = self._targets(app.account, client_id)[0]
        delivery = self.deliverer.validate(target, plain_token, app.account.id)
        return {"ok": bool(delivery.validation_ok), "delivery": delivery.public()}

    def deauthorize(self, client_id: str) -> dict:
        """The admin removes the app: tokens die and app_deauthorized is sent (§2.4)."""
        app = self._app(client_id)
        self.oauth.revoke_install(client_id, app.account.id)
        owner = self.world.user(app.account, 0) or {}
        message = envelope("app_deauthorized", app.account.id, user_id=owner.get("id", ""),
                           client_id=client_id)
        return {"event": message, "deliveries": self._deliver(app.account, message, client_id)}

    # -- switches and stats ---------------------------------------------------------------------

    def set_faults(self, **changes: Any) -> dict:
        try:
            return self.faults.update(changes)
        except (TypeError, ValueError) as exc:
            raise ConfigError(str(exc)) from None

    def clear_faults(self) -> dict:
        return self.faults.clear()

    def configure(self, **changes: Any) -> dict:
        unknown = set(changes) - set(TUNABLE)
        if unknown:
            raise ConfigError(f"not settable: {', '.join(sorted(unknown))}; one of {TUNABLE}")
        if "rate_limits" in changes:
            try:
                limits_for("business", changes["rate_limits"])
            except (TypeError, ValueError, AttributeError) as exc:
                raise ConfigError(f"rate_limits: {exc}") from None
        for key, value in changes.items():
            setattr(self.config, key, value)
        for key in ("token_ttl", "code_ttl", "refresh_ttl"):
            setattr(self.oauth, key, getattr(self.config, key))
        self.limiter.qps_retry_after = self.config.qps_retry_after
        return {key: getattr(self.config, key) for key in TUNABLE}

    def advance_clock(self, seconds: float) -> dict:
        return {"offset": self.clock.advance(float(seconds)), "now": iso(self.clock.now())}

    def stats(self) -> dict:
        deliveries = self.deliverer.public_log()
        return {
            "now": iso(self.clock.now()),
            "apps": {app.client_id: {"account_id": app.account.id,
                                     "token_calls": dict(app.calls)}
                     for app in self.oauth.apps.values()},
            "rate_limits": self.limiter.stats(),
            "requests": dict(self.requests),
            "faults": self.faults.public(),
            "delivery_counts": dict(Counter(d["state"] for d in deliveries)),
            "deliveries": deliveries,
        }

    def reset(self) -> dict:
        """Clears counters and the delivery log (not the world, apps or tokens)."""
        for app in self.oauth.apps.values():
            app.calls.clear()
        self.limiter.reset()
        self.requests.clear()
        self.deliverer.reset()
        self.faults.injected = dict.fromkeys(self.faults.injected, 0)
        return {"ok": True}

    def wait_deliveries(self, timeout: float = 10.0) -> bool:
        return self.deliverer.wait_idle(timeout)

    # -- the HTTP control API ---------------------------------------------------------------------

    def handle_control(self, req: Request) -> Response:
        parts = req.raw_path.split("?")[0].split("/")[2:]
        try:
            body = req.json() if req.method in ("POST", "PATCH", "PUT") else {}
            return Response.json(self._control(req.method, parts, body))
        except (ConfigError, ValueError, TypeError) as exc:
            return Response.json({"error": str(exc)}, 400)
        except LookupError as exc:
            return Response.json({"error": str(exc)}, 404)

    def _control(self, method: str, parts: list[str], body: dict) -> Any:
        match method, parts:
            case "GET", ["health"]:
                return {"ok": True, "base_url": self.base_url}
            case "GET", ["apps"]:
                return {"apps": self.apps()}
            case "POST", ["apps"]:
                return self.register_app(body)
            case "GET", ["accounts"]:
                return {"accounts": [self.account_summary(a)
                                     for a in list(self.world.accounts.values())]}
            case "POST", ["accounts", account_id]:
                return self.set_account(account_id, **_pick(body, "plan", "dashboard"))
            case "POST", [("meetings" | "webinars") as kind, "end"]:
                return self.end_meeting(kind=kind[:-1], **_pick(
                    body, "account_id", "client_id", "participants", "minutes", "topic",
                    "meeting_id", "uuid", "practice_session"))
            case "POST", ["users"]:
                return self.create_user(**body)
            case "PATCH", ["users", user_id]:
                fields = {k: v for k, v in body.items() if k != "old_object"}
                return self.update_user(user_id, fields,
                                        old_object=body.get("old_object", True))
            case "DELETE", ["users", user_id]:
                return self.delete_user(user_id)
            case "POST", ["url_validation" | "validate"]:
                return self.validate_url(body.get("client_id", ""), body.get("plain_token", ""))
            case "POST", ["deauthorize"]:
                return self.deauthorize(body.get("client_id", ""))
            case "POST", ["events"]:
                return self.send_event(**_pick(body, "event", "client_id", "account_id",
                                               "object", "payload"))
            case "GET", ["faults"]:
                return self.faults.public()
            case "POST", ["faults"]:
                return self.set_faults(**body)
            case "DELETE", ["faults"]:
                return self.clear_faults()
            case "POST", ["config"]:
                return self.configure(**body)
            case "POST", ["clock"]:
                return self.advance_clock(body.get("advance", 0))
            case "GET", ["stats"]:
                return self.stats()
            case "POST", ["reset"]:
                return self.reset()
            case "POST", ["wait"]:
                return {"idle": self.wait_deliveries(float(body.get("timeout", 10)))}
        raise LookupError(f"no control endpoint {method} /_sandbox/{'/'.join(parts)}")


def _pick(body: dict, *keys: str) -> dict:
    unknown = set(body) - set(keys)
    if unknown:
        raise ConfigError(f"unknown field(s): {', '.join(sorted(unknown))}")
    return body
