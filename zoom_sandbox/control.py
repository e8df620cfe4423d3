"""The ``Sandbox`` object (the parts wired together) and its control API under ``/_sandbox/``.

Each control operation is a method, so tests in this process can call it directly and the HTTP
control API is a thin JSON wrapper around the same code. Events that Zoom would send as a result
(meeting.ended, user.*, group.*, app_deauthorized) go to every app on the account with an event
URL. Event shapes follow the event types of Zoom's SDK (github.com/zoom/rivet-javascript,
users and meetings modules). The control API is listed in the package's README.md.
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
from .scopes import KINDS
from .webhooks import Deliverer, Target, envelope
from .world import Account, Meeting, World, iso

DEFAULT_REDIRECT = "http://localhost:8000/adminapi/zoom/oauth/authorize"
TUNABLE = ("data_delay", "token_ttl", "code_ttl", "refresh_ttl", "page_token_ttl",
           "retry_factor", "delivery_timeout", "rate_limits", "qps_retry_after",
           "retry_timestamp")
USER_FIELDS = ("id", "first_name", "last_name", "email", "type")
STATUS_EVENTS = {"activate": ("user.activated", "active"),
                 "deactivate": ("user.deactivated", "inactive"),
                 "disassociate": ("user.disassociated", None)}


class Sandbox:
    def __init__(self, config: SandboxConfig | None = None):
        self.config = config = config or SandboxConfig()
        self.clock = Clock()
        self.world = World(seed=config.seed, accounts=config.accounts, users=config.users,
                           groups=config.groups, meetings=config.meetings,
                           webinars=config.webinars, max_participants=config.max_participants,
                           plan=config.plan, zoom_rooms=config.zoom_rooms)
        self.oauth = OAuth(self.world, self.clock, token_ttl=config.token_ttl,
                           code_ttl=config.code_ttl, refresh_ttl=config.refresh_ttl)
        self.limiter = RateLimiter(self.clock, qps_retry_after=config.qps_retry_after)
        self.faults = Faults(config.faults)
        if config.retry_timestamp not in ("fresh", "original"):
            raise ConfigError("retry_timestamp must be fresh or original")
        self.deliverer = Deliverer(retry_factor=config.retry_factor,
                                   timeout=config.delivery_timeout,
                                   retry_timestamp=config.retry_timestamp)
        self.api = RestApi(self)
        self.requests: Counter = Counter()
        self.sync_delivery = False  # True: one attempt in the caller's thread (send, scenario)
        limits_for(config.plan, config.rate_limits)  # fail early on a bad override
        # Seeded apps expect a portal on localhost:8000, the redirect URL of `make run`.
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

    def set_scopes(self, client_id: str, *, scopes: str | list[str] | None = None,
                   add: list[str] | None = None, remove: list[str] | None = None,
                   scope_kind: str | None = None) -> dict:
        """Changes what the app is given, as the customer would on the app's Scopes page.
        Tokens keep the scopes of their authorization: the change applies after the customer
        authorizes again. ``scope_kind`` alone resets the scopes to that scheme's full set."""
        app = self._app(client_id)
        spec = app.spec
        if scope_kind is not None:
            if scope_kind not in KINDS:
                raise ConfigError(f"scope_kind must be one of {', '.join(KINDS)}")
            spec.scope_kind = scope_kind
            if scopes is None:
                from .scopes import DEFAULT_SCOPES

                spec.scopes = DEFAULT_SCOPES[scope_kind]
        if scopes is not None:
            if not isinstance(scopes, str | list):
                raise ConfigError("scopes must be a string or a list of strings")
            spec.scopes = " ".join(scopes if isinstance(scopes, list) else scopes.split())
        names = spec.scopes.split()
        for name in add or []:
            if name not in names:
                names.append(str(name))
        names = [n for n in names if n not in set(remove or [])]
        spec.scopes = " ".join(names)
        return app.public()

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
                    dashboard: bool | None = None, zoom_rooms: int | None = None) -> dict:
        """Plan presets (rate limits; Dashboard only on business), the Dashboard switch and the
        number of Zoom Rooms."""
        account = self._account(account_id)
        if plan is not None:
            limits_for(plan)
            if plan not in ("free", "pro", "business"):
                raise ConfigError("plan must be free, pro or business")
            account.plan = plan
        if dashboard is not None:
            account.dashboard = bool(dashboard)
        if zoom_rooms is not None:
            account.zoom_rooms = max(0, int(zoom_rooms))
        return self.account_summary(account)

    def account_summary(self, account: Account) -> dict:
        owner = self.world.user(account, 0) or {}
        return {
            "id": account.id, "plan": account.plan, "dashboard": account.dashboard,
            "owner": {"id": owner.get("id"), "email": owner.get("email")},
            "users": account.total_users - len(account.deleted), "groups": account.groups,
            "group_ids": [self.world.group_id(account, g)
                          for g in self.world.group_indices(account)],
            "zoom_rooms": account.zoom_rooms,
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

    def _deliver(self, account: Account, event: dict, client_id: str = "",
                 timestamp: int | None = None) -> list[int]:
        self.deliverer.retry_factor = self.config.retry_factor
        self.deliverer.timeout = self.config.delivery_timeout
        self.deliverer.retry_timestamp = self.config.retry_timestamp
        send = self.deliverer.send_once if self.sync_delivery else self.deliverer.deliver
        return [send(target, event, account.id, timestamp).id
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
        if event in ("user.deleted", "user.activated", "user.deactivated",
                     "user.disassociated"):
            obj = {k: user[k] for k in USER_FIELDS}
            return envelope(event, account.id, {**obj, **overrides}, **operator)
        if event.startswith("group."):
            group_id = self.world.group_id(account, 0)
            obj: dict[str, Any] = {"id": group_id, "name": self.world.group_name(account, 0)}
            if event in ("group.member_added", "group.member_deleted"):
                obj = {"id": group_id, "members": [{"id": user["id"], "email": user["email"]}]}
            return envelope(event, account.id, {**obj, **overrides}, **operator,
                            time_stamp=webhooks.now_ms())
        if event == "app_deauthorized":
            return envelope(event, account.id, **{"user_id": operator["operator_id"],
                                                 "client_id": client_id, **overrides})
        return envelope(event, account.id, plainToken=overrides.get("plainToken", ""))

    def send_event(self, *, event: str, client_id: str = "", account_id: str = "",
                   object: dict | None = None, payload: dict | None = None,
                   age_seconds: float = 0) -> dict:
        """Any event in Zoom's envelope, to one app or every app of the account.

        ``age_seconds`` > 0 signs the delivery (every attempt) with a timestamp that many
        seconds old, and dates ``event_ts`` the same: a late retry as the receiver sees it."""
        if event not in webhooks.EVENTS:
            raise ConfigError(f"unknown event {event!r}; one of {', '.join(webhooks.EVENTS)}")
        account = self._account(account_id, client_id)
        if event == "endpoint.url_validation":
            return self.validate_url(client_id, (payload or {}).get("plainToken", ""))
        try:
            age = float(age_seconds or 0)
        except (TypeError, ValueError):
            raise ConfigError("age_seconds must be a number") from None
        if age < 0:
            raise ConfigError("age_seconds must not be negative")
        message = envelope(event, account.id, object, **(payload or {}))
        timestamp = None
        if age:
            timestamp = int(self.clock.now() - age)
            if "event_ts" in message:
                message["event_ts"] = timestamp * 1000
        return {"event": message, "timestamp": timestamp,
                "deliveries": self._deliver(account, message, client_id, timestamp)}

    def end_meeting(self, *, kind: str = "meeting", account_id: str = "", client_id: str = "",
                    participants: int = 5, minutes: int = 30, topic: str = "",
                    meeting_id: int | None = None, uuid: str = "",
                    practice_session: bool | None = None, send_event: bool = True) -> dict:
        """Ends an instance now and sends meeting.ended / webinar.ended; with
        ``send_event=False`` nothing is sent (a missed event: only Zoom's meeting list and
        the Dashboard know of the meeting)."""
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
        deliveries = self._deliver(account, message) if send_event else []
        return {"uuid": meeting.uuid, "id": meeting.id, "event": message if send_event else None,
                "deliveries": deliveries}

    def _ended_object(self, account: Account, meeting: Meeting) -> dict:
        host = self.world.user(account, meeting.host_index) or {}
        return {  # id is a string in webhooks, an integer in REST answers
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
                           creation_type="create")
        return {"user": user, "event": message, "deliveries": self._deliver(account, message)}

    def _locate(self, user_id: str) -> tuple[Account, int]:
        found = self.world.locate_user(user_id)
        if found is None:
            raise ConfigError(f"unknown user id {user_id!r}")
        return found

    def update_user(self, user_id: str, fields: dict, *, old_object: bool = True) -> dict:
        """user.updated: a partial object. ``old_object`` is in Zoom's older samples but not in
        its SDK's current type, so it can be left out."""
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
        obj = {k: user[k] for k in USER_FIELDS}
        message = envelope("user.deleted", account.id, obj, **self._operator(account))
        return {"event": message, "deliveries": self._deliver(account, message)}

    def user_status(self, user_id: str, action: str) -> dict:
        """activate / deactivate (status active / inactive) or disassociate (the user leaves
        the account; Zoom sends no user.deleted after it). Sends the matching user.* event."""
        if action not in STATUS_EVENTS:
            raise LookupError(f"no user action {action!r}; one of {', '.join(STATUS_EVENTS)}")
        account, index = self._locate(user_id)
        user = self.world.user(account, index)
        event, status = STATUS_EVENTS[action]
        if status is None:
            self.world.delete_user(account, index)
        else:
            self.world.update_user(account, index, {"status": status})
        obj = {k: user[k] for k in USER_FIELDS}
        message = envelope(event, account.id, obj, **self._operator(account))
        return {"user": self.world.user(account, index), "event": message,
                "deliveries": self._deliver(account, message)}

    # -- groups ------------------------------------------------------------------------------

    def _locate_group(self, group_id: str) -> tuple[Account, int]:
        decoded = self.world._decode("group", group_id)
        if decoded is None or self.world.find_group(decoded[0], group_id) is None:
            raise LookupError(f"unknown group id {group_id!r}")
        return decoded

    def _group_event(self, account: Account, event: str, obj: dict) -> dict:
        message = envelope(event, account.id, obj, **self._operator(account),
                           time_stamp=webhooks.now_ms())
        return {"event": message, "deliveries": self._deliver(account, message)}

    def create_group(self, *, name: str = "", account_id: str = "", client_id: str = "") -> dict:
        account = self._account(account_id, client_id)
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a group needs a name")
        g = self.world.create_group(account, name.strip())
        group_id = self.world.group_id(account, g)
        return {"group": {"id": group_id, "name": name.strip(), "total_members": 0},
                **self._group_event(account, "group.created", {"id": group_id,
                                                                "name": name.strip()})}

    def update_group(self, group_id: str, *, name: str = "") -> dict:
        account, g = self._locate_group(group_id)
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a group needs a name")
        account.group_names[g] = name.strip()
        return self._group_event(account, "group.updated", {"id": group_id, "name": name.strip()})

    def delete_group(self, group_id: str) -> dict:
        account, g = self._locate_group(group_id)
        name = self.world.group_name(account, g)
        account.deleted_groups.add(g)
        return self._group_event(account, "group.deleted", {"id": group_id, "name": name})

    def group_members(self, group_id: str, user_ids: list[str], *, member: bool) -> dict:
        """Adds (member_added) or removes (member_deleted) users; one event for the batch."""
        account, g = self._locate_group(group_id)
        if not isinstance(user_ids, list) or not user_ids:
            raise ConfigError("user_ids must be a non-empty list")
        changed = []
        for user_id in user_ids:
            found_account, index = self._locate(str(user_id))
            if found_account is not account:
                raise ConfigError(f"user {user_id} is not on the group's account")
            self.world.set_membership(account, index, g, member)
            user = self.world.user(account, index)
            changed.append({"id": user["id"], "email": user["email"]})
        event = "group.member_added" if member else "group.member_deleted"
        return self._group_event(account, event, {"id": group_id, "members": changed})

    def validate_url(self, client_id: str, plain_token: str = "") -> dict:
        """Sends endpoint.url_validation now and checks the answer."""
        app = self._app(client_id)
        if not app.spec.event_url:
            raise ConfigError(f"app {client_id} has no event_url")
        self.deliverer.timeout = self.config.delivery_timeout
        _app, target = self._targets(app.account, client_id)[0]
        delivery = self.deliverer.validate(target, plain_token, app.account.id)
        return {"ok": bool(delivery.validation_ok), "delivery": delivery.public()}

    def deauthorize(self, client_id: str) -> dict:
        """The admin removes the app: tokens die and app_deauthorized is sent."""
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
        if changes.get("retry_timestamp", "fresh") not in ("fresh", "original"):
            raise ConfigError("retry_timestamp must be fresh or original")
        for key, value in changes.items():
            setattr(self.config, key, value)
        self.deliverer.retry_timestamp = self.config.retry_timestamp
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
            # Calls per /v2 endpoint, per rate-limit category and per meeting UUID.
            **self.api.counts(),
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
        self.api.reset_counts()
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
            case "POST", ["apps", client_id, "scopes"]:
                return self.set_scopes(client_id, **_pick(body, "scopes", "add", "remove",
                                                          "scope_kind"))
            case "GET", ["accounts"]:
                return {"accounts": [self.account_summary(a)
                                     for a in list(self.world.accounts.values())]}
            case "POST", ["accounts", account_id]:
                return self.set_account(account_id, **_pick(body, "plan", "dashboard",
                                                            "zoom_rooms"))
            case "POST", [("meetings" | "webinars") as kind, "end"]:
                return self.end_meeting(kind=kind[:-1], **_pick(
                    body, "account_id", "client_id", "participants", "minutes", "topic",
                    "meeting_id", "uuid", "practice_session", "send_event"))
            case "POST", ["users"]:
                return self.create_user(**body)
            case "PATCH", ["users", user_id]:
                fields = {k: v for k, v in body.items() if k != "old_object"}
                return self.update_user(user_id, fields,
                                        old_object=body.get("old_object", True))
            case "DELETE", ["users", user_id]:
                return self.delete_user(user_id)
            case "POST", ["users", user_id, action]:
                return self.user_status(user_id, action)
            case "POST", ["groups"]:
                return self.create_group(**_pick(body, "name", "account_id", "client_id"))
            case "PATCH", ["groups", group_id]:
                return self.update_group(group_id, **_pick(body, "name"))
            case "DELETE", ["groups", group_id]:
                return self.delete_group(group_id)
            case "POST", ["groups", group_id, "members"]:
                return self.group_members(group_id, _pick(body, "user_ids").get("user_ids"),
                                          member=True)
            case "DELETE", ["groups", group_id, "members", user_id]:
                return self.group_members(group_id, [user_id], member=False)
            case "POST", ["url_validation" | "validate"]:
                return self.validate_url(body.get("client_id", ""), body.get("plain_token", ""))
            case "POST", ["deauthorize"]:
                return self.deauthorize(body.get("client_id", ""))
            case "POST", ["events"]:
                return self.send_event(**_pick(body, "event", "client_id", "account_id",
                                               "object", "payload", "age_seconds"))
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
