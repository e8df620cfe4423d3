"""Each tenant's Zoom user directory: full syncs of users and groups, and user.* events.

Owns `zoom_users_sync`, `zoom_groups_sync`, `zoom_directory_sync`, `zoom_user_event_apply` (every
user.* event) and `zoom_group_event_apply` (group.* events: incremental group sync).
Full syncs page through Zoom (https://developers.zoom.us/docs/api/users/) and write each page with a
fixed number of queries (one upsert of the page's users, one of their memberships, one progress
update): no query per user, flat memory. Users of every status are listed (status is only a filter);
users Zoom no longer returns are marked deleted (`deleted_at`), never dropped. Memberships come from
each user's `group_ids`, so a full sync needs no members call per group; `zoom_groups_sync`
can also list members per group when asked.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from tenants.models import Tenant

from .capabilities import scope_missing_record
from .client import ZoomClient
from .exceptions import (
    ReauthorizationRequiredError,
    RetryLater,
    ZoomAPIError,
    ZoomRateLimitedError,
    ZoomScopeMissingError,
    ZoomTransientError,
)
from .fields import aware_datetime, int_or_zero, small_int, text
from .models import ConnectionState, SyncRun, ZoomGroup, ZoomGroupMembership, ZoomUser
from .queueing import directory_sync_enqueue
from .ratelimit import FLUSH_EVERY_SECONDS, api_usage_flush_quietly

logger = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]  # (items done, items total or None)

USER_STATUSES = ("active", "inactive", "pending")  # each status needs its own listing
USER_UPDATE_FIELDS = [
    "email", "first_name", "last_name", "display_name", "user_type", "status", "role_id", "dept",
    "timezone", "zoom_created_at", "last_login_at", "synced_at", "deleted_at",
]
LOCK_SECONDS = 2 * 3600
# Scheduled syncs: a per-second 429 retries this long after Zoom's Retry-After; a transient
# error (5xx, timeout) after a fixed pause (the task retries at most five times).
RATE_LIMIT_MARGIN_SECONDS = 5
TRANSIENT_RETRY_SECONDS = 120


class SyncAlreadyRunningError(RuntimeError):
    """Another full sync of the same tenant holds the lock."""


def user_key(data: dict) -> str:
    """Zoom's user id; pending users may come without one (seen, not documented): key
    them by email."""
    zoom_id = data.get("id")
    if zoom_id:
        return text(zoom_id, 64)
    email = (data.get("email") or "").strip().lower()
    return f"email:{email}"[:64] if email else ""


# Zoom key -> (model field, reader)
_USER_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "email": ("email", lambda v: text(v, 254)),
    "first_name": ("first_name", lambda v: text(v, 128)),
    "last_name": ("last_name", lambda v: text(v, 128)),
    "display_name": ("display_name", lambda v: text(v, 256)),
    "type": ("user_type", small_int),
    "status": ("status", lambda v: text(v, 16)),
    "role_id": ("role_id", lambda v: text(v, 32)),
    "dept": ("dept", lambda v: text(v, 256)),
    "timezone": ("timezone", lambda v: text(v, 64)),
    "created_at": ("zoom_created_at", aware_datetime),
    "user_created_at": ("zoom_created_at", aware_datetime),
    "last_login_time": ("last_login_at", aware_datetime),
}


def _user_values(data: dict, *, partial: bool = False) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, (field, read) in _USER_FIELDS.items():
        if key in data:
            if key == "user_created_at" and values.get("zoom_created_at"):
                continue
            values[field] = read(data[key])
        elif not partial and field not in values:
            values[field] = None if field in {"user_type", "zoom_created_at",
                                              "last_login_at"} else ""
    if "display_name" not in data and not partial:
        values["display_name"] = text(
            " ".join(p for p in (data.get("first_name"), data.get("last_name")) if p), 256)
    return values


# -- runs and progress ---------------------------------------------------------------------------

class _RunProgress:
    """Keeps SyncRun and the caller's progress callback in step; one UPDATE per page."""

    def __init__(self, run: SyncRun, progress: Progress | None):
        self.run = run
        self.progress = progress
        self._last_flush = time.monotonic()

    def save(self, *fields: str) -> None:
        SyncRun.objects.filter(pk=self.run.pk).update(
            **{f: getattr(self.run, f) for f in fields})
        if self.progress is not None:
            self.progress(self.run.items_done, self.run.items_total)
        if time.monotonic() - self._last_flush > FLUSH_EVERY_SECONDS:
            # The API call counts of a long sync reach the health page while it runs.
            api_usage_flush_quietly(tenant=self.run.tenant)
            self._last_flush = time.monotonic()


def _finish(run: SyncRun, *, error: BaseException | None = None) -> SyncRun:
    run.finished_at = timezone.now()
    run.status = SyncRun.Status.FAILED if error else SyncRun.Status.SUCCEEDED
    run.error = f"{type(error).__name__}: {error}"[:2000] if error else ""
    run.phase = "failed" if error else "done"
    if isinstance(error, ZoomScopeMissingError):
        # Parked, not failed: the capability is recorded on the connection, and a new
        # authorization queues the sync again.
        run.status = SyncRun.Status.NO_SCOPE
        run.error = scope_missing_record(tenant=run.tenant, error=error)[:2000]
        run.phase = "waiting for a scope"
    run.save(update_fields=["finished_at", "status", "error", "phase", "items_done",
                            "items_total", "users_seen", "users_marked_deleted", "groups_seen",
                            "api_calls"])
    return run


@contextmanager
def _sync_run(*, tenant, kind: str, phase: str, progress: Progress | None,
              client: ZoomClient | None):
    """A SyncRun from start to finish around one sync: recorded as succeeded when the block
    ends, as failed (with the error) when it raises; the client is closed if made here."""
    run = SyncRun.objects.create(tenant=tenant, kind=kind, phase=phase)
    tracker = _RunProgress(run, progress)
    own_client = client is None
    client = client or ZoomClient(tenant)
    try:
        yield run, tracker, client
        _finish(run)
    except BaseException as exc:
        _finish(run, error=exc)
        raise
    finally:
        if own_client:
            client.close()
            api_usage_flush_quietly(tenant=tenant)


# -- users ---------------------------------------------------------------------------------------

def zoom_users_sync(*, tenant, progress: Progress | None = None,
                    client: ZoomClient | None = None) -> SyncRun:
    """Full user sync: every status, bulk upserts page by page, missing users marked deleted."""
    with _sync_run(tenant=tenant, kind="users", phase="users: starting", progress=progress,
                   client=client) as (run, tracker, client):
        started = timezone.now()
        calls_before = client.calls
        groups = dict(ZoomGroup.objects.filter(tenant=tenant, deleted_at__isnull=True)
                      .values_list("zoom_id", "pk"))
        memberships_seen = False
        total = 0
        for status in USER_STATUSES:
            run.phase = f"users: {status}"
            first = True
            for page in client.prefetch(client.users_pages(status=status)):
                if first:
                    total += int(page.get("total_records") or 0)
                    run.items_total = max(total, run.items_done)
                    first = False
                users = page.get("users") or []
                with transaction.atomic():  # one commit per page
                    memberships_seen |= _users_page_store(
                        tenant=tenant, users=users, groups=groups, now=started)
                    run.items_done += len(users)
                    run.users_seen = run.items_done
                    run.items_total = max(run.items_total or 0, run.items_done)
                    run.api_calls = client.calls - calls_before
                    tracker.save("phase", "items_done", "items_total", "users_seen",
                                 "api_calls")
        run.phase = "users: marking deleted"
        with transaction.atomic():
            run.users_marked_deleted = (
                ZoomUser.objects.filter(tenant=tenant, deleted_at__isnull=True)
                .filter(Q(synced_at__lt=started) | Q(synced_at__isnull=True))
                .update(deleted_at=timezone.now()))
            if memberships_seen:
                ZoomGroupMembership.objects.filter(user__tenant=tenant).filter(
                    Q(synced_at__lt=started) | Q(synced_at__isnull=True)).delete()
    return run


def _users_page_store(*, tenant, users: list[dict], groups: dict[str, int], now) -> bool:
    """Two statements for a page: upsert users (RETURNING ids), upsert their memberships."""
    rows: dict[str, dict[str, Any]] = {}
    group_ids_by_key: dict[str, list] = {}
    has_group_ids = False
    for data in users:
        if not isinstance(data, dict):
            continue
        key = user_key(data)
        if not key:
            continue
        rows[key] = _user_values(data)  # the last one wins if Zoom repeats a user
        if "group_ids" in data:
            has_group_ids = True
            group_ids_by_key[key] = data.get("group_ids") or []
    if not rows:
        return has_group_ids
    pks = _users_upsert(tenant, rows, now)
    if has_group_ids:
        pairs: set[tuple[int, int]] = set()
        for key, gids in group_ids_by_key.items():
            user_pk = pks.get(key)
            for gid in gids if isinstance(gids, list) else ():
                group_pk = groups.get(gid) if isinstance(gid, str) else None
                if group_pk is not None and user_pk is not None:
                    pairs.add((group_pk, user_pk))
        if pairs:
            _memberships_upsert(pairs, now)
    return has_group_ids


_SQL_TYPES = {"user_type": "integer", "zoom_created_at": "timestamptz",
              "last_login_at": "timestamptz"}


def _users_upsert(tenant, rows: dict[str, dict[str, Any]], now) -> dict[str, int]:
    """INSERT … ON CONFLICT DO UPDATE of one page; returns {zoom_id: pk}. One statement.

    On PostgreSQL the page goes as one JSON document through json_to_recordset(): building
    300 model instances and compiling their values costs far more CPU than the database
    spends on them (the target is 5,000 users/s). Elsewhere (SQLite in `make run`) the ORM's
    bulk_create does the same job.
    """
    if connection.vendor != "postgresql":
        objs = [ZoomUser(tenant=tenant, zoom_id=key, synced_at=now, deleted_at=None, **values)
                for key, values in rows.items()]
        saved = ZoomUser.objects.bulk_create(
            objs, update_conflicts=True, unique_fields=["tenant", "zoom_id"],
            update_fields=USER_UPDATE_FIELDS)
        return {u.zoom_id: u.pk for u in saved}
    meta = ZoomUser._meta
    fields = [f for f in USER_UPDATE_FIELDS if f not in ("synced_at", "deleted_at")]
    records = []
    for key, values in rows.items():
        record = {"zoom_id": key}
        for field in fields:
            value = values.get(field)
            record[field] = value.isoformat() if isinstance(value, datetime) else value
        records.append(record)
    col = {f: qn(meta.get_field(f).column) for f in ["tenant", "zoom_id", *USER_UPDATE_FIELDS]}
    shape = ", ".join(f"{qn(f)} {_SQL_TYPES.get(f, 'text')}" for f in ["zoom_id", *fields])
    insert_cols = ", ".join(col[f] for f in ["tenant", "zoom_id", *fields, "synced_at",
                                             "deleted_at"])
    select = ", ".join(f"r.{qn(f)}" for f in ["zoom_id", *fields])
    updates = ", ".join(f"{col[f]} = EXCLUDED.{col[f]}" for f in USER_UPDATE_FIELDS)
    # Identifiers come from the model's _meta, quoted; every value is a bound parameter.
    sql = (f"INSERT INTO {qn(meta.db_table)} ({insert_cols}) "  # noqa: S608
           f"SELECT %s, {select}, %s, NULL FROM json_to_recordset(%s::json) AS r({shape}) "
           f"ON CONFLICT ({col['tenant']}, {col['zoom_id']}) DO UPDATE SET {updates} "
           f"RETURNING {qn(meta.pk.column)}, {col['zoom_id']}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [tenant.pk, now, json.dumps(records)])
        return {zoom_id: pk for pk, zoom_id in cursor.fetchall()}


def _memberships_upsert(pairs: set[tuple[int, int]], now) -> None:
    if connection.vendor != "postgresql":
        ZoomGroupMembership.objects.bulk_create(
            [ZoomGroupMembership(group_id=g, user_id=u, synced_at=now) for g, u in pairs],
            update_conflicts=True, unique_fields=["group", "user"], update_fields=["synced_at"])
        return
    meta = ZoomGroupMembership._meta
    group, user, synced = (qn(meta.get_field(f).column) for f in ("group", "user", "synced_at"))
    groups, users = zip(*sorted(pairs), strict=True)
    sql = (f"INSERT INTO {qn(meta.db_table)} ({group}, {user}, {synced}) "  # noqa: S608
           f"SELECT g, u, %s FROM unnest(%s::bigint[], %s::bigint[]) AS t(g, u) "
           f"ON CONFLICT ({group}, {user}) DO UPDATE SET {synced} = EXCLUDED.{synced}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, list(groups), list(users)])


def qn(name: str) -> str:
    return connection.ops.quote_name(name)


# -- groups --------------------------------------------------------------------------------------

def zoom_groups_sync(*, tenant, progress: Progress | None = None, members: bool = True,
                     client: ZoomClient | None = None) -> SyncRun:
    """Groups (one list call), missing groups marked deleted; with `members`, each group's
    members too (pages of 300), memberships not seen removed."""
    with _sync_run(tenant=tenant, kind="groups", phase="groups: listing", progress=progress,
                   client=client) as (run, tracker, client):
        started = timezone.now()
        calls_before = client.calls
        listed = [g for g in client.groups_list() if isinstance(g, dict) and g.get("id")]
        rows = {}
        for g in listed:
            rows[text(g["id"], 64)] = ZoomGroup(
                tenant=tenant, zoom_id=text(g["id"], 64), name=text(g.get("name"), 256),
                total_members=max(0, int_or_zero(g.get("total_members"))), synced_at=started,
                deleted_at=None)
        saved = ZoomGroup.objects.bulk_create(
            list(rows.values()), update_conflicts=True, unique_fields=["tenant", "zoom_id"],
            update_fields=["name", "total_members", "synced_at", "deleted_at"]) if rows else []
        ZoomGroup.objects.filter(tenant=tenant, deleted_at__isnull=True).filter(
            Q(synced_at__lt=started) | Q(synced_at__isnull=True)).update(deleted_at=timezone.now())
        run.groups_seen = len(saved)
        run.items_total = (sum(g.total_members for g in saved) if members else len(saved))
        run.items_done = 0 if members else len(saved)
        run.api_calls = client.calls - calls_before
        tracker.save("groups_seen", "items_total", "items_done", "api_calls")
        if members:
            for group in saved:
                run.phase = f"groups: members of {group.name or group.zoom_id}"[:64]
                for page in client.group_members_pages(group.zoom_id):
                    ids = [user_key(m) for m in page.get("members") or [] if isinstance(m, dict)]
                    ids = [i for i in ids if i]
                    user_pks = set(ZoomUser.objects.filter(tenant=tenant, zoom_id__in=ids
                                                           ).values_list("pk", flat=True))
                    memberships = [ZoomGroupMembership(group_id=group.pk, user_id=pk,
                                                       synced_at=started) for pk in user_pks]
                    if memberships:
                        ZoomGroupMembership.objects.bulk_create(
                            memberships, update_conflicts=True, unique_fields=["group", "user"],
                            update_fields=["synced_at"])
                    run.items_done += len(ids)
                    run.items_total = max(run.items_total or 0, run.items_done)
                    run.api_calls = client.calls - calls_before
                    tracker.save("phase", "items_done", "items_total", "api_calls")
                ZoomGroupMembership.objects.filter(group=group).filter(
                    Q(synced_at__lt=started) | Q(synced_at__isnull=True)).delete()
    return run


def zoom_directory_sync(*, tenant, progress: Progress | None = None, users: bool = True,
                        groups: bool = True) -> list[SyncRun]:
    """The full sync (beat, admin action, `zoom_sync`): groups first, then users.

    With both, group members come from the users' `group_ids` (no members call per group).
    One run per tenant at a time (a cache lock, Redis when configured).
    """
    lock = f"zoom-directory-sync:{tenant.pk}"
    if not cache.add(lock, "1", timeout=LOCK_SECONDS):
        raise SyncAlreadyRunningError(f"a directory sync of {tenant.slug} is already running")
    runs: list[SyncRun] = []
    try:
        with ZoomClient(tenant) as client:
            if groups:
                runs.append(zoom_groups_sync(tenant=tenant, progress=progress,
                                             members=not users, client=client))
            if users:
                runs.append(zoom_users_sync(tenant=tenant, progress=progress, client=client))
    finally:
        api_usage_flush_quietly(tenant=tenant)
        cache.delete(lock)
    return runs


# -- user.* events ------------------------------------------------------------------------------

# Events after which the user is no longer on the account: user.disassociated means the user
# left the account (Zoom sends no user.deleted after it), so it is treated like a removal.
_REMOVAL_EVENTS = {"user.deleted", "user.disassociated"}


def zoom_user_event_apply(*, tenant, event: str, payload: dict, event_ts: int | None) -> None:
    """Applies user.created / user.updated (a partial patch) / user.deleted / user.activated /
    user.deactivated / user.disassociated to the tenant's directory. Older events than the last
    applied are ignored (except to fill empty fields).
    """
    obj = (payload or {}).get("object")
    if not isinstance(obj, dict):
        raise ValueError(f"{event}: payload has no object")
    key = user_key(obj)
    if not key:
        raise ValueError(f"{event}: object has no id or email")
    now = timezone.now()
    with transaction.atomic():
        user = (ZoomUser.objects.select_for_update()
                .filter(tenant=tenant, zoom_id=key).first())
        if user is None and event != "user.created" and obj.get("email"):
            # Known before under its pending key (email) and now with an id: adopt that row.
            user = (ZoomUser.objects.select_for_update()
                    .filter(tenant=tenant, zoom_id=user_key({"email": obj["email"]})).first())
            if user is not None:
                user.zoom_id = key
        if user is not None and event_ts is not None and user.last_event_ts is not None \
                and event_ts < user.last_event_ts:
            # Zoom retries late (5, 25 and 85 minutes) and out of order: an older event must not
            # undo a newer one, but it may fill in what is still empty (a user.created that
            # arrives after the user.updated carries the name and email).
            filled = []
            if event in {"user.created", "user.updated"}:
                older = _user_values(obj, partial=True)
                filled = [f for f, value in older.items() if value and not getattr(user, f)]
                for field in filled:
                    setattr(user, field, older[field])
                if filled:
                    user.save(update_fields=filled)
            logger.info("%s is older than the last event applied to user %s; filled only: %s",
                        event, key, ", ".join(filled) or "nothing")
            return
        if user is None:
            user = ZoomUser(tenant=tenant, zoom_id=key, **_user_values(obj))
            if event == "user.created" and not obj.get("status"):
                user.status = "pending" if obj.get("creation_type") == "create" else "active"
        elif event in {"user.created", "user.updated"}:
            for field, value in _user_values(obj, partial=True).items():
                setattr(user, field, value)
            if {"first_name", "last_name"} & set(obj) and "display_name" not in obj:
                user.display_name = text(f"{user.first_name} {user.last_name}".strip(), 256)
        if event in _REMOVAL_EVENTS:
            user.deleted_at = (datetime.fromtimestamp(event_ts / 1000, tz=UTC)
                               if event_ts else now)
        else:
            user.deleted_at = None
        if event == "user.deactivated":
            user.status = "inactive"
        elif event == "user.activated":
            user.status = "active"
        if event_ts is not None:
            user.last_event_ts = event_ts
        user.save()
        if event in _REMOVAL_EVENTS:
            # A user who left the account is in none of its groups any more.
            removed = ZoomGroupMembership.objects.filter(user=user)
            group_ids = list(removed.values_list("group_id", flat=True))
            removed.delete()
            _group_totals_refresh(group_ids)


# -- group.* events ------------------------------------------------------------------------------

def _group_values(obj: dict) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "name" in obj:
        values["name"] = text(obj.get("name"), 256)
    if "total_members" in obj:
        values["total_members"] = max(0, int_or_zero(obj.get("total_members")))
    return values


def _group_totals_refresh(group_ids) -> None:
    for group_id in set(group_ids):
        ZoomGroup.objects.filter(pk=group_id).update(
            total_members=ZoomGroupMembership.objects.filter(group_id=group_id).count())


def _zoom_fetch(tenant, call: Callable[[ZoomClient], Any]) -> Any:
    """One call to Zoom for what an event lacks; None when Zoom refuses it for good (a missing
    scope is recorded). Transient errors propagate: the delivery is retried."""
    try:
        with ZoomClient(tenant) as client:
            return call(client)
    except ZoomScopeMissingError as exc:
        scope_missing_record(tenant=tenant, error=exc)
    except (ZoomTransientError, ZoomRateLimitedError):
        raise
    except (ReauthorizationRequiredError, ZoomAPIError) as exc:
        logger.info("tenant %s: Zoom lookup for a group event failed: %s", tenant.slug, exc)
    finally:
        api_usage_flush_quietly(tenant=tenant)
    return None


def _group_get_or_fetch(tenant, obj: dict, now) -> ZoomGroup:
    """The group named by an event, created when new; its name is asked of Zoom (List groups)
    only when neither the directory nor the event has it."""
    zoom_id = text(obj.get("id"), 64)
    group = ZoomGroup.objects.select_for_update().filter(tenant=tenant, zoom_id=zoom_id).first()
    values = _group_values(obj)
    if group is None:
        if "name" not in values:
            listed = _zoom_fetch(tenant, lambda client: client.groups_list()) or []
            found = next((g for g in listed if isinstance(g, dict)
                          and str(g.get("id")) == zoom_id), None)
            values = {**_group_values(found or {}), **values}
        values.pop("total_members", None)  # counted from the memberships below
        group = ZoomGroup.objects.create(tenant=tenant, zoom_id=zoom_id, synced_at=now,
                                         **values)
    return group


def _member_users(tenant, members: list, now) -> list[ZoomUser]:
    """The directory users an event's `members` name; a user the directory does not know yet
    is read from Zoom (Get a user) and added."""
    users: list[ZoomUser] = []
    for member in members:
        if not isinstance(member, dict):
            continue
        key = user_key(member)
        if not key:
            continue
        user = ZoomUser.objects.filter(tenant=tenant, zoom_id=key).first()
        if user is None and member.get("email"):
            user = ZoomUser.objects.filter(tenant=tenant,
                                           email__iexact=str(member["email"])[:254],
                                           deleted_at__isnull=True).first()
        if user is None and member.get("id"):
            data = _zoom_fetch(tenant, lambda client, uid=str(member["id"]): client.user_get(uid))
            data = data if isinstance(data, dict) else member
            user, _ = ZoomUser.objects.get_or_create(
                tenant=tenant, zoom_id=key,
                defaults={**_user_values({**member, **data}), "synced_at": now})
        if user is not None:
            users.append(user)
    return users


def zoom_group_event_apply(*, tenant, event: str, payload: dict) -> None:
    """Applies group.created / updated / deleted / member_added / member_deleted to the
    directory, so groups stay current between full syncs.

    Events carry `object {id, name}` or `object {id, members: [{id, email}]}` (rivet's
    `users` event types); Zoom is asked only for what the event lacks (a new group's name, a
    new member's profile).
    """
    obj = (payload or {}).get("object")
    if not isinstance(obj, dict) or not obj.get("id"):
        raise ValueError(f"{event}: payload has no object with an id")
    now = timezone.now()
    with transaction.atomic():
        if event == "group.deleted":
            group = ZoomGroup.objects.filter(tenant=tenant,
                                             zoom_id=text(obj.get("id"), 64)).first()
            if group is not None:
                ZoomGroupMembership.objects.filter(group=group).delete()
                group.deleted_at = group.deleted_at or now
                group.total_members = 0
                group.save(update_fields=["deleted_at", "total_members"])
            return
        group = _group_get_or_fetch(tenant, obj, now)
        values = _group_values(obj)
        values.pop("total_members", None)
        for field, value in values.items():
            setattr(group, field, value)
        group.deleted_at = None
        group.save()
        members = obj.get("members")
        if event not in ("group.member_added", "group.member_deleted") or \
                not isinstance(members, list):
            return
        users = _member_users(tenant, members, now)
        if event == "group.member_added":
            ZoomGroupMembership.objects.bulk_create(
                [ZoomGroupMembership(group=group, user=user, synced_at=now) for user in users],
                update_conflicts=True, unique_fields=["group", "user"],
                update_fields=["synced_at"])
        else:
            ZoomGroupMembership.objects.filter(group=group, user__in=users).delete()
        _group_totals_refresh([group.pk])


# -- scheduled syncs (the sync tasks' one call each) ---------------------------------------------

def _parked_key(tenant_id: int) -> str:
    return f"zoom-directory-sync-parked:{tenant_id}"


def tenant_directory_sync_attempt(*, tenant_id: int) -> dict:
    """One scheduled or requested full sync: {"status", ...} for the task, or `RetryLater`.

    A per-second rate limit comes back a little after Zoom's Retry-After; a transient error
    (5xx, timeout) after two minutes; Zoom's daily limit parks the tenant until the reset.
    """
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None or not tenant.is_active:
        return {"status": "skipped"}
    try:
        runs = zoom_directory_sync(tenant=tenant)
    except SyncAlreadyRunningError:
        return {"status": "already_running"}
    except ZoomRateLimitedError as exc:
        if exc.daily:
            # Park until the reset: the beat fan-out skips the tenant while this key lives.
            cache.set(_parked_key(tenant.pk), "1", timeout=max(60, int(exc.retry_after_seconds)))
            return {"status": "parked"}
        raise RetryLater(exc.retry_after_seconds + RATE_LIMIT_MARGIN_SECONDS, str(exc),
                         status="rate_limited") from exc
    except ZoomTransientError as exc:
        raise RetryLater(TRANSIENT_RETRY_SECONDS, str(exc), status="transient") from exc
    except ZoomScopeMissingError as exc:
        # Recorded (the run and the connection); resumed after the customer authorizes again.
        logger.warning("directory sync of tenant %s waits for a scope: %s", tenant.slug, exc)
        return {"status": "no_scope", "error": str(exc)[:500]}
    except (ReauthorizationRequiredError, ZoomAPIError) as exc:
        # Recorded on the SyncRun; retrying would not help until staff or the customer act.
        logger.warning("directory sync of tenant %s failed: %s", tenant.slug, exc)
        return {"status": "failed", "error": str(exc)[:500]}
    return {"status": "done",
            "users": sum(r.users_seen for r in runs),
            "groups": sum(r.groups_seen for r in runs)}


def tenants_due_sync_enqueue(*, now: datetime | None = None) -> int:
    """Beat fan-out: queues a sync for each active, connected tenant whose directory is due."""
    now = now or timezone.now()
    queued = 0
    tenants = Tenant.objects.filter(is_active=True,
                                    zoom_connection__state=ConnectionState.CONNECTED)
    for tenant in tenants.only("pk", "sync_interval_hours"):
        if cache.get(_parked_key(tenant.pk)):
            continue
        since = now - timedelta(hours=tenant.sync_interval_hours or 24)
        recent = SyncRun.objects.filter(tenant=tenant, kind="users").filter(
            Q(status=SyncRun.Status.SUCCEEDED, started_at__gte=since)
            | Q(status=SyncRun.Status.RUNNING, started_at__gte=now - timedelta(hours=2))
        ).exists()
        if recent:
            continue
        directory_sync_enqueue(tenant_id=tenant.pk)
        queued += 1
    return queued


def tenants_sync_now(*, tenants) -> int:
    """Queues a full directory sync for each tenant (admin action); returns how many."""
    count = 0
    for tenant in tenants:
        directory_sync_enqueue(tenant_id=tenant.pk)
        count += 1
    return count
