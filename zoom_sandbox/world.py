"""The sandbox's deterministic world: accounts, users, groups, meetings, participants and QoS.

Everything is a pure function of (seed, account, index), so a 100,000-user account or a
1,000-participant, 60-minute meeting costs nothing until a page of it is asked for; memory holds
only the overlay of changes made through the control API (created, updated, deleted users,
changed groups and memberships, meetings ended "now"). Ids are reversible, so
``GET /users/{id}`` needs no index either.

Zoom's Dashboard participants list holds join *sessions*, not people: a person who rejoins
appears once per join with a new ``user_id`` and ``participant_uuid``, and a waiting-room stint
is a row of its own with ``status: in_waiting_room`` (Zoom's text in "List meeting participants";
devforum.zoom.us thread 125559). Row ``p`` of a meeting is, by ``p % 10`` (row 0 is the host):

    1  a signed-in account user          6  that of row p+1, in the waiting room
    2  a registered guest (registrant_id, email; leaves early when p % 20 == 2)
    3  a rejoin: the person of row p-1 when p % 20 == 3, else of row p-2 (a signed-in user)
    4  a signed-in user whose samples also carry *_rwg blocks and new, unknown fields
    5  a room system through the Cloud Room Connector: QoS only in *_device_{from,to}_crc
       blocks (poor when p % 20 == 5)
    7  a signed-in user admitted from the waiting room (row p-1)
    8  a guest with every identifier blank      9  an SDK join with a customer_key
    0  a signed-in account user (p = 10, 20, ...)

Signed-in rows have ``id`` equal to ``participant_user_id`` (the Users API id); guests have both
blank (Zoom hides them for external participants since March 2023).
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_M = 62**8  # id space; _A is invertible modulo _M, so index <-> id is a bijection
_A = 25214903917
_A_INV = pow(_A, -1, _M)

FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Emeka", "Fatima", "Gustav", "Hana", "Iñigo", "Jun",
         "Kofi", "Léa", "Mateus", "Noor", "Oskar", "Priya", "Quinn", "Rosa", "Søren", "Tomás",
         "Uma", "Vikram", "Wen", "Xóchitl", "Yusuf", "Zoë"]
LAST = ["Ruiz", "Okafor", "Müller", "Tanaka", "Kowalski", "Haddad", "Nguyen", "Smith", "García",
        "Ivanova", "Dubois", "Rossi", "Björk", "Chen", "Patel", "O'Brien", "Nakamura", "Silva"]
DEPTS = ["Sales", "Support", "Engineering", "Finance", "Marketing", "IT", ""]
TIMEZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "Europe/London", "UTC"]
GROUP_NAMES = ["Sales", "Support", "Engineering", "Finance", "Marketing", "Operations", "Legal"]
DEVICES = [("Mac", "Mac", "14.5"), ("Windows", "Windows", "11"), ("iOS", "iOS", "17.4"),
           ("Android", "Android", "14"), ("Linux", "Linux", "6.8")]
LOCATIONS = [("Paris (FR)", "Frankfurt (DE)"), ("New York (US)", "Virginia (US)"),
             ("Tokyo (JP)", "Tokyo (JP)"), ("London (GB)", "Amsterdam (NL)")]
TOPICS = ["Weekly sync", "Customer call", "All hands", "Design review", "1:1", "Réunion d'équipe",
          "Sprint planning", "Onboarding", "Q&A webinar", "Product launch"]


def stable_int(*parts: Any) -> int:
    """A process-independent hash (``hash()`` of a str changes with PYTHONHASHSEED)."""
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def rng(*parts: Any) -> random.Random:
    return random.Random(stable_int(*parts))  # noqa: S311 - test data, not secrets


def long_id(*parts: Any, width: int = 22) -> str:
    """A Zoom-looking 22-character id from a seed (account ids, app credentials)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return b62(int.from_bytes(digest, "big"), width)


def b62(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        out.append(B62[digit])
    return "".join(reversed(out))


def unb62(text: str) -> int | None:
    number = 0
    for char in text:
        digit = B62.find(char)
        if digit < 0:
            return None
        number = number * 62 + digit
    return number


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def hms(seconds: int) -> str:
    """Dashboard `duration` is a string such as "47:38"."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def qos_sample_draw(r: random.Random, date_time: str, *, poor: bool, camera: bool,
                    sharing: bool, role: str = "") -> dict:
    """One ``user_qos`` entry at ``date_time``, every value drawn from ``r`` in a fixed order.

    The sandbox seeds ``r`` per participant-minute (so any page is reproducible on its own);
    the QoS storage benchmark draws a whole meeting from one generator. ``role`` is the row's
    (``room``: only the connector's blocks; ``member_rwg``: extra, undocumented blocks).
    """

    def stream(video: bool, present: bool = True) -> dict:
        # Metric values are strings with units; "-" when Zoom has no measurement.
        if not present:
            return {}
        if r.random() < 0.03:
            keys = ["bitrate", "latency", "jitter", "avg_loss", "max_loss"]
            return {k: "-" for k in keys + (["resolution", "frame_rate"] if video else [])}
        latency = r.randint(150, 600) if poor else r.randint(15, 90)
        loss = r.uniform(2.5, 12) if poor else r.uniform(0, 0.8)
        block = {
            "bitrate": f"{r.randint(300, 1800)} kbps" if video
            else f"{r.uniform(20, 60):.1f} kbps",
            "latency": f"{latency} ms",
            "jitter": f"{r.randint(20, 80) if poor else r.randint(0, 12)} ms",
            "avg_loss": f"{loss:.1f}%",
            "max_loss": f"{loss * r.uniform(1.2, 4):.1f}%",
        }
        if video:
            block["resolution"] = r.choice(["1280*720", "640*360", "1920*1080"])
            block["frame_rate"] = f"{r.randint(8, 15) if poor else r.randint(20, 30)} fps"
        return block

    cpu = r.randint(3, 30)
    if role == "room":
        # A room system through the Cloud Room Connector: its media is measured at the
        # connector, so only the *_device_{from,to}_crc blocks hold data ("from" is what the
        # device sent, "to" what it received).
        return {
            "date_time": date_time,
            "audio_input": {}, "audio_output": {}, "video_input": {}, "video_output": {},
            "as_input": {}, "as_output": {},
            "audio_device_from_crc": stream(False), "audio_device_to_crc": stream(False),
            "video_device_from_crc": stream(True), "video_device_to_crc": stream(True),
            "as_device_from_crc": stream(True, sharing),
            "as_device_to_crc": stream(True, sharing),
        }
    sample = {
        "date_time": date_time,
        "audio_input": stream(False), "audio_output": stream(False),
        "video_input": stream(True, camera), "video_output": stream(True),
        "as_input": stream(True, sharing), "as_output": stream(True, sharing),
        "cpu_usage": {"zoom_min_cpu_usage": f"{max(1, cpu - 5)}%",
                      "zoom_avg_cpu_usage": f"{cpu}%",
                      "zoom_max_cpu_usage": f"{cpu + r.randint(2, 20)}%",
                      "system_max_cpu_usage": f"{cpu + r.randint(20, 60)}%"},
        "wifi_rssi": {"max_rssi": -40, "avg_rssi": -40 - r.randint(5, 30),
                      "min_rssi": -75, "rssi_unit": "dBm"},
    }
    if role == "member_rwg":
        # What the *_rwg blocks measure is not documented; Zoom's schema has them, and new
        # fields such as video_connection_type (2025) arrive without notice.
        sample.update(
            audio_device_from_rwg=stream(False), audio_device_to_rwg=stream(False),
            video_device_from_rwg=stream(True, camera), video_device_to_rwg=stream(True),
            video_connection_type="UDP", as_connection_type="UDP",
            cpu_pressure={"level": "nominal"})
    return sample


@dataclass
class Meeting:
    """One ended meeting or webinar instance (the `uuid`), its data generated on demand."""

    kind: str  # "meeting" | "webinar"
    uuid: str
    id: int
    topic: str
    host_index: int
    start: float
    minutes: int
    participants: int
    ended_at: float  # wall clock time the instance ended; data is served data_delay later
    seed: int

    @property
    def end(self) -> float:
        return self.start + self.minutes * 60


@dataclass
class Account:
    index: int
    id: str
    tag: str
    plan: str
    base_users: int
    groups: int
    dashboard: bool = True  # Business+ with the Dashboard feature enabled
    zoom_rooms: int = 8
    created: list[dict] = field(default_factory=list)  # users added through the control API
    patches: dict[int, dict] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    meetings: dict[str, Meeting] = field(default_factory=dict)  # uuid -> instance
    latest: dict[tuple[str, int], str] = field(default_factory=dict)  # (kind, id) -> uuid
    # Groups changed through the control API: created ones get indices from ``groups`` up.
    extra_groups: int = 0
    group_names: dict[int, str] = field(default_factory=dict)
    deleted_groups: set[int] = field(default_factory=set)
    memberships: dict[int, list[int]] = field(default_factory=dict)  # user index -> groups
    _status_counts: dict[str, int] | None = None

    @property
    def total_users(self) -> int:
        return self.base_users + len(self.created)

    @property
    def domain(self) -> str:
        return f"acct{self.index}.example"


class World:
    """All accounts. Reads are lock-free; control-API writes take ``self.lock``."""

    def __init__(self, *, seed: int = 1, accounts: int = 1, users: int = 60, groups: int = 4,
                 meetings: int = 12, webinars: int = 3, max_participants: int = 12,
                 plan: str = "business", epoch: float | None = None, zoom_rooms: int = 8):
        self.seed = seed
        self.default_users = users
        self.default_groups = groups
        self.meeting_count = meetings
        self.webinar_count = webinars
        self.max_participants = max(1, max_participants)
        self.plan = plan
        self.zoom_rooms = max(0, zoom_rooms)
        # Seeded meetings end before this instant; rounded so a restart within the hour
        # serves the same data.
        self.epoch = epoch if epoch is not None else (time.time() // 3600) * 3600
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.by_tag: dict[str, Account] = {}
        for _ in range(accounts):
            self.add_account()

    # -- accounts ---------------------------------------------------------------------------

    def add_account(self, account_id: str = "", plan: str | None = None) -> Account:
        with self.lock:
            index = len(self.accounts)
            tag = b62(stable_int(self.seed, "tag", index), 4)
            while tag in self.by_tag:
                tag = b62(stable_int(self.seed, "tag", index, tag), 4)
            account_id = account_id or long_id(self.seed, "account", index)
            account = Account(index=index, id=account_id, tag=tag, plan=plan or self.plan,
                              base_users=max(1, self.default_users), groups=self.default_groups,
                              zoom_rooms=self.zoom_rooms)
            self.accounts[account_id] = account
            self.by_tag[tag] = account
            self._seed_meetings(account)
            return account

    def account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    def first_account(self) -> Account:
        return next(iter(self.accounts.values()))

    # -- ids ----------------------------------------------------------------------------------

    def _encode(self, account: Account, kind: str, index: int) -> str:
        offset = stable_int(self.seed, account.tag, kind) % _M
        body = b62((index * _A + offset) % _M, 8)
        check = b62(stable_int(self.seed, account.tag, kind, index), 2)
        return f"{account.tag}{body}{check}"

    def _decode(self, kind: str, ident: str) -> tuple[Account, int] | None:
        if len(ident) != 14:
            return None
        account = self.by_tag.get(ident[:4])
        number = unb62(ident[4:12])
        if account is None or number is None:
            return None
        offset = stable_int(self.seed, account.tag, kind) % _M
        index = ((number - offset) * _A_INV) % _M
        if self._encode(account, kind, index) != ident:
            return None
        return account, index

    # -- users ----------------------------------------------------------------------------------

    def user_id(self, account: Account, index: int) -> str:
        return self._encode(account, "user", index)

    @staticmethod
    def base_status(index: int) -> str:
        # A fixed pattern, so a status's share is known without generating users.
        if index == 0:
            return "active"  # the owner, who installs the app
        if index % 23 == 7:
            return "pending"
        if index % 17 == 5:
            return "inactive"
        return "active"

    def _base_user(self, account: Account, index: int) -> dict:
        r = rng(self.seed, account.tag, "user", index)
        first, last = r.choice(FIRST), r.choice(LAST)
        local = f"{first}.{last}".lower().replace("'", "").encode("ascii", "ignore").decode()
        created = self.epoch - 86400 * (400 + r.randrange(1000))
        owner = index == 0
        return {
            "id": self.user_id(account, index),
            "first_name": first,
            "last_name": last,
            "display_name": f"{first} {last}",
            "email": f"{local}.{index}@{account.domain}",
            "type": 2 if owner or r.random() < 0.6 else 1,  # 1 Basic, 2 Licensed
            "role_id": "0" if owner else ("1" if r.random() < 0.05 else "2"),
            "role_name": "Owner" if owner else "Member",
            "pmi": 5550000000 + stable_int(account.tag, index) % 999999999,
            "timezone": r.choice(TIMEZONES),
            "verified": 1,
            "dept": r.choice(DEPTS),
            "created_at": iso(created),
            "user_created_at": iso(created),
            "last_login_time": iso(self.epoch - r.randrange(86400 * 30)),
            "last_client_version": "6.0.2.12345(mac)",
            "language": "en-US",
            "status": self.base_status(index),
            "group_ids": [self.group_id(account, index % account.groups)] if account.groups else [],
            "im_group_ids": [],
            "employee_unique_id": f"E-{index}",
            "plan_united_type": "1",
        }

    def user(self, account: Account, index: int) -> dict | None:
        if index in account.deleted or not 0 <= index < account.total_users:
            return None
        if index >= account.base_users:
            user = dict(account.created[index - account.base_users])
        else:
            user = self._base_user(account, index)
        user.update(account.patches.get(index, {}))
        if index in account.memberships or account.deleted_groups:
            user["group_ids"] = [self.group_id(account, g) for g in self.groups_of(account, index)]
        user["account_id"] = account.id
        return user

    def find_user(self, ident: str, account: Account) -> tuple[int, dict] | None:
        """A user id or email inside ``account`` (GET /users/{userId} takes either)."""
        decoded = self._decode("user", ident)
        if decoded and decoded[0] is account:
            user = self.user(account, decoded[1])
            return (decoded[1], user) if user else None
        if "@" in ident and ident.endswith(account.domain):
            try:
                index = int(ident.split("@")[0].rsplit(".", 1)[1])
            except (IndexError, ValueError):
                index = -1
            user = self.user(account, index)
            if user and user["email"] == ident:
                return index, user
        for index in {*account.patches, *range(account.base_users, account.total_users)}:
            user = self.user(account, index)
            if user and user["email"] == ident:
                return index, user
        return None

    def locate_user(self, ident: str) -> tuple[Account, int] | None:
        """Any account's user by id (the control API's update and delete)."""
        decoded = self._decode("user", ident)
        if decoded and self.user(*decoded):
            return decoded
        return None

    def status_of(self, account: Account, index: int) -> str | None:
        if index in account.deleted:
            return None
        if index in account.patches or index >= account.base_users:
            user = self.user(account, index)
            return user["status"] if user else None
        return self.base_status(index)

    def count_users(self, account: Account, status: str) -> int:
        with self.lock:
            if account._status_counts is None:
                counts = {"active": 0, "inactive": 0, "pending": 0}
                for index in range(account.base_users):
                    counts[self.base_status(index)] += 1
                account._status_counts = counts
            total = account._status_counts.get(status, 0)
            touched = {*account.patches, *account.deleted}
            touched.update(range(account.base_users, account.total_users))
        for index in touched:
            if index < account.base_users and self.base_status(index) == status:
                total -= 1
            if self.status_of(account, index) == status:
                total += 1
        return total

    def scan_users(self, account: Account, status: str, start: int, limit: int
                   ) -> tuple[list[dict], int | None]:
        """Up to ``limit`` users with ``status`` from index ``start``; and where the next starts."""
        found, index, total = [], start, account.total_users
        while index < total:
            if self.status_of(account, index) == status:
                if len(found) == limit:
                    return found, index
                found.append(self.user(account, index))
            index += 1
        return found, None

    def create_user(self, account: Account, fields: dict) -> dict:
        with self.lock:
            index = account.total_users
            r = rng(self.seed, account.tag, "new-user", index)
            first = fields.get("first_name") or r.choice(FIRST)
            last = fields.get("last_name") or r.choice(LAST)
            user = {
                "id": self.user_id(account, index), "first_name": first, "last_name": last,
                "display_name": f"{first} {last}",
                "email": fields.get("email") or f"new.user.{index}@{account.domain}",
                "type": int(fields.get("type", 1)), "role_id": "2", "role_name": "Member",
                "pmi": 5550000000 + index, "timezone": "UTC", "verified": 0,
                "dept": fields.get("dept", ""), "created_at": iso(time.time()),
                "user_created_at": iso(time.time()), "language": "en-US",
                "status": fields.get("status", "active"),
                "group_ids": ([self.group_id(account, index % account.groups)]
                              if account.groups else []),
                "im_group_ids": [], "employee_unique_id": "", "plan_united_type": "1",
            }
            account.created.append(user)
            return self.user(account, index)

    def update_user(self, account: Account, index: int, fields: dict) -> tuple[dict, dict]:
        """Applies a patch; returns (new values, old values) of the changed fields."""
        with self.lock:
            before = self.user(account, index) or {}
            patch = {k: v for k, v in fields.items() if k not in {"id", "account_id"}}
            account.patches.setdefault(index, {}).update(patch)
            return patch, {k: before.get(k) for k in patch}

    def delete_user(self, account: Account, index: int) -> None:
        with self.lock:
            account.deleted.add(index)

    # -- groups -----------------------------------------------------------------------------------
    # Seeded membership is ``user index % groups`` (so counts need no scan); users whose groups
    # changed through the control API carry an explicit list in ``account.memberships``.

    def group_id(self, account: Account, index: int) -> str:
        return self._encode(account, "group", index)

    def group_indices(self, account: Account) -> list[int]:
        return [g for g in range(account.groups + account.extra_groups)
                if g not in account.deleted_groups]

    def find_group(self, account: Account, ident: str) -> int | None:
        decoded = self._decode("group", ident)
        if decoded and decoded[0] is account and decoded[1] in self.group_indices(account):
            return decoded[1]
        return None

    def groups_of(self, account: Account, index: int) -> list[int]:
        if index in account.memberships:
            chosen = account.memberships[index]
        else:
            chosen = [index % account.groups] if account.groups else []
        return [g for g in chosen if g not in account.deleted_groups]

    def group_name(self, account: Account, g: int) -> str:
        if g in account.group_names:
            return account.group_names[g]
        return GROUP_NAMES[g % len(GROUP_NAMES)] + (f" {g // len(GROUP_NAMES)}"
                                                    if g >= len(GROUP_NAMES) else "")

    def _member_indices(self, account: Account, group: int) -> list[int]:
        """Members of a group when memberships were changed (a scan; small worlds only)."""
        base = (range(group, account.total_users, account.groups)
                if group < account.groups else range(0))
        found = {i for i in base if i not in account.memberships}
        found.update(i for i, groups in account.memberships.items() if group in groups)
        return sorted(i for i in found if i not in account.deleted)

    def group_member_total(self, account: Account, group: int) -> int:
        if group in account.deleted_groups:
            return 0
        if account.memberships or group >= account.groups:
            return len(self._member_indices(account, group))
        total = len(range(group, account.total_users, account.groups))
        return total - sum(1 for i in account.deleted if i % account.groups == group)

    def groups(self, account: Account) -> list[dict]:
        return [
            {"id": self.group_id(account, g), "name": self.group_name(account, g),
             "total_members": self.group_member_total(account, g)}
            for g in self.group_indices(account)
        ]

    def scan_members(self, account: Account, group: int, start: int, limit: int
                     ) -> tuple[list[dict], int | None]:
        """A page of members from position ``start``: a user index while memberships are the
        seeded pattern, an offset into the member list once they changed."""
        keys = ("id", "email", "first_name", "last_name", "type")
        if account.memberships or group >= account.groups:
            indices = self._member_indices(account, group)
            page = [{k: self.user(account, i)[k] for k in keys}
                    for i in indices[start:start + limit]]
            return page, (start + limit if start + limit < len(indices) else None)
        found, index = [], start
        while index < account.total_users:
            user = self.user(account, index)
            if user:
                if len(found) == limit:
                    return found, index
                found.append({k: user[k] for k in keys})
            index += account.groups
        return found, None

    def members_start(self, account: Account, group: int) -> int:
        return 0 if account.memberships or group >= account.groups else group

    def create_group(self, account: Account, name: str) -> int:
        with self.lock:
            g = account.groups + account.extra_groups
            account.extra_groups += 1
            account.group_names[g] = name
            return g

    def set_membership(self, account: Account, index: int, group: int, member: bool) -> None:
        with self.lock:
            current = self.groups_of(account, index)
            if member and group not in current:
                current.append(group)
            elif not member and group in current:
                current.remove(group)
            account.memberships[index] = current

    # -- meetings and webinars ----------------------------------------------------------------

    def _uuid(self, *parts: Any, shape: str = "") -> str:
        """A 24-character base64 instance UUID. shape "/" starts with a slash, "//" holds one."""
        r = rng(self.seed, "uuid", *parts)
        while True:
            raw = bytearray(r.randbytes(16))
            if shape == "/":
                raw[0] |= 0xFC
            elif shape == "//":
                raw[3] = 0xFF
                raw[4] |= 0xF0
            text = base64.b64encode(bytes(raw)).decode()
            if shape or not (text.startswith("/") or "//" in text):
                return text

    def _seed_meetings(self, account: Account) -> None:
        kinds = [("meeting", m) for m in range(self.meeting_count)]
        kinds += [("webinar", w) for w in range(self.webinar_count)]
        for kind, number in kinds:
            r = rng(self.seed, account.tag, kind, number)
            # Every fourth instance has a UUID that needs double encoding (one that starts with
            # "/" or holds "//"; Zoom documents the rule on its Dashboard and Reports pages).
            shape = {1: "/", 2: "//"}.get(number % 4, "")
            minutes = r.randint(15, 90)
            end = self.epoch - 3600 * (number + 1) - r.randrange(1800)
            self._add_meeting(account, Meeting(
                kind=kind, uuid=self._uuid(account.tag, kind, number, shape=shape),
                id=(81000000000 if kind == "meeting" else 91000000000) + r.randrange(10**9),
                topic=r.choice(TOPICS), host_index=r.randrange(min(account.base_users, 50)),
                start=end - minutes * 60, minutes=minutes,
                participants=r.randint(2, max(2, self.max_participants)),
                ended_at=end, seed=stable_int(self.seed, account.tag, kind, number),
            ))

    def _add_meeting(self, account: Account, meeting: Meeting) -> None:
        account.meetings[meeting.uuid] = meeting
        key = (meeting.kind, meeting.id)
        current = account.meetings.get(account.latest.get(key, ""))
        if current is None or current.ended_at <= meeting.ended_at:
            account.latest[key] = meeting.uuid

    def end_meeting(self, account: Account, *, kind: str = "meeting", participants: int = 5,
                    minutes: int = 30, topic: str = "", meeting_id: int | None = None,
                    uuid: str = "", host_index: int = 0, now: float | None = None) -> Meeting:
        """Creates an instance that ended just now (control API "end a meeting now")."""
        with self.lock:
            now = time.time() if now is None else now
            serial = len(account.meetings)
            r = rng(self.seed, account.tag, "ended", kind, serial)
            meeting = Meeting(
                kind=kind, uuid=uuid or self._uuid(account.tag, "ended", kind, serial),
                id=meeting_id or (82000000000 if kind == "meeting" else 92000000000)
                + r.randrange(10**9),
                topic=topic or r.choice(TOPICS), host_index=host_index, start=now - minutes * 60,
                minutes=max(1, minutes), participants=max(1, participants), ended_at=now,
                seed=stable_int(self.seed, account.tag, "ended", kind, serial),
            )
            self._add_meeting(account, meeting)
            return meeting

    def find_meeting(self, account: Account, kind: str, ident: str) -> Meeting | None:
        """By instance UUID, or by numeric id meaning the latest instance."""
        meeting = account.meetings.get(ident)
        if meeting is None and ident.isdigit():
            meeting = account.meetings.get(account.latest.get((kind, int(ident)), ""))
        return meeting if meeting is not None and meeting.kind == kind else None

    def meeting_detail(self, account: Account, meeting: Meeting) -> dict:
        host = self.user(account, meeting.host_index) or self._base_user(account, 0)
        r = rng(meeting.seed, "detail")
        return {  # Zoom's "Get meeting details" (Dashboard) answer
            "uuid": meeting.uuid, "id": meeting.id, "topic": meeting.topic,
            "host": host["display_name"], "email": host["email"],
            "user_type": "Licensed" if host["type"] == 2 else "Basic", "dept": host["dept"],
            "start_time": iso(meeting.start), "end_time": iso(meeting.end),
            "duration": hms(meeting.minutes * 60), "participants": meeting.participants,
            "in_room_participants": 0, "has_pstn": r.random() < 0.1, "has_voip": True,
            "has_3rd_party_audio": False, "has_video": True, "has_screen_share": r.random() < 0.5,
            "has_recording": r.random() < 0.2, "has_sip": False, "has_archiving": False,
            "has_manual_captions": False, "has_automated_captions": False,
            "has_meeting_summary": False, "custom_keys": [],
        }

    def meeting_list_entry(self, account: Account, meeting: Meeting) -> dict:
        """A row of "List meetings" / "List webinars", with Zoom's own quality labels (good,
        fair, poor or bad) for audio, video and screen sharing (both rivet response types
        declare them)."""
        entry = self.meeting_detail(account, meeting)
        entry.update(self.meeting_labels(meeting))
        return entry

    @staticmethod
    def meeting_labels(meeting: Meeting) -> dict:
        r = rng(meeting.seed, "labels")
        pick = ["good"] * 5 + ["fair"] * 2 + ["poor", "bad"]
        return {"audio_quality": r.choice(pick), "video_quality": r.choice(pick),
                "screen_share_quality": r.choice(pick)}

    # -- participants: join sessions, see the module docstring -----------------------------------

    @staticmethod
    def row_role(p: int) -> str:
        if p == 0:
            return "host"
        return {0: "member", 1: "member", 2: "registrant", 3: "rejoin", 4: "member_rwg",
                5: "room", 6: "waiting", 7: "admitted", 8: "guest", 9: "sdk"}[p % 10]

    @staticmethod
    def rejoin_source(p: int) -> int:
        return p - 1 if p % 20 == 3 else p - 2

    def _person_row(self, p: int) -> int:
        """The row whose person row ``p`` is (itself, or an earlier / later row)."""
        role = self.row_role(p)
        if role == "rejoin":
            return self.rejoin_source(p)
        if role == "waiting":
            return p + 1
        return p

    def _identity(self, account: Account, meeting: Meeting, q: int) -> dict:
        """Who the person of row ``q`` is: user, name, email, registrant_id, customer_key."""
        role = self.row_role(q)
        user = None
        if role in ("host", "member", "member_rwg", "admitted"):
            index = (meeting.host_index + q) % account.total_users
            user = self.user(account, index)
        if user is not None:
            return {"user": user, "name": user["display_name"], "email": user["email"],
                    "registrant_id": "", "customer_key": ""}
        tag = long_id(meeting.seed, "person", q, width=10)
        if role == "registrant":
            return {"user": None, "name": f"Registrant {q}",
                    "email": f"guest.{tag}@partner.example",
                    "registrant_id": long_id(meeting.seed, "registrant", q, width=22),
                    "customer_key": ""}
        if role == "room":
            return {"user": None, "name": f"Conference Room {q}", "email": "",
                    "registrant_id": "", "customer_key": ""}
        if role == "sdk":
            return {"user": None, "name": f"App user {q}", "email": "", "registrant_id": "",
                    "customer_key": f"ck-{tag}"}
        return {"user": None, "name": f"Guest {q}", "email": "", "registrant_id": "",
                "customer_key": ""}

    def participant(self, account: Account, meeting: Meeting, p: int) -> dict:
        r = rng(meeting.seed, "participant", p)
        role = self.row_role(p)
        who = self._identity(account, meeting, self._person_row(p))
        user = who["user"]
        guest = user is None
        device, os_name, os_version = r.choice(DEVICES)
        if role == "room":
            device, os_name, os_version = "H.323/SIP", "", ""
        location, data_center = r.choice(LOCATIONS)
        join, leave = self._attendance(meeting, p)
        name = who["name"]
        hidden = guest and role == "guest" and r.random() < 0.5  # no BAA / external user
        return {
            # Guests who are not hosts have blank `id` and `participant_user_id`.
            "id": "" if guest else user["id"],
            "user_id": str(16778240 + p),
            "participant_user_id": "" if guest else user["id"],
            "participant_uuid": self._uuid(meeting.uuid, "p", p),
            "user_name": "" if hidden else name,
            "email": who["email"],
            "registrant_id": who["registrant_id"],
            "device": device, "os": os_name, "os_version": os_version,
            "device_name": f"{name}'s {device}",
            "ip_address": "" if hidden else f"203.0.113.{p % 250 + 1}",
            "internal_ip_addresses": [f"10.0.{p // 250}.{p % 250 + 1}"],
            "location": "" if hidden else location,
            "network_type": r.choice(["Wifi", "Wired", "Cellular"]),
            "microphone": "Built-in Microphone", "speaker": "Built-in Speakers",
            "camera": "Built-in Camera", "data_center": data_center,
            "full_data_center": f"{data_center};{data_center} (Cloud)",
            "connection_type": r.choice(["UDP", "SSL", "TCP"]),
            "join_time": iso(join), "leave_time": iso(leave),
            "leave_reason": f"{name} left the meeting.<br>Reason: Host ended the meeting.",
            "share_application": False, "share_desktop": r.random() < 0.2,
            "share_whiteboard": False, "recording": False,
            "pc_name": f"PC-{p}", "domain": "cust.local", "mac_addr": "", "harddisk_id": "",
            "version": "6.0.2", "client": "Zoom Workplace",
            "status": "in_waiting_room" if role == "waiting" else "in_meeting",
            "role": "host" if p == 0 else "attendee",
            "customer_key": who["customer_key"],
            "audio_quality": r.choice(["good", "good", "fair", "poor"]),
            "video_quality": "good", "screen_share_quality": "good",
            "bo_mtg_id": "", "groupId": "", "has_archiving": False, "audio_call": [],
        }

    def _attendance(self, meeting: Meeting, p: int) -> tuple[float, float]:
        r = rng(meeting.seed, "times", p)
        start, end = meeting.start, meeting.end
        span = end - start
        role = self.row_role(p)
        if p == 0:
            return start, end
        if role == "waiting":  # a short stint, then row p+1 is admitted
            join = start + min(60, span * 0.1)
            return join, join + min(120, span * 0.1)
        if role == "admitted":
            waited = self._attendance(meeting, p - 1)[1]
            return waited, end
        if any(q < meeting.participants and self.row_role(q) == "rejoin"
               and self.rejoin_source(q) == p for q in (p + 1, p + 2)):
            return start + min(30, span * 0.05), start + span * 0.4  # leaves, comes back
        if role == "rejoin":
            return start + span * 0.5, end
        join = start + r.randrange(max(1, int(min(300, meeting.minutes * 30))))
        if r.random() < 0.8:
            return join, end
        return join, end - r.randrange(max(1, int(end - join)))

    def qos_participant(self, account: Account, meeting: Meeting, p: int) -> dict:
        """Identity fields plus ``user_qos``, one sample per minute attended. No
        ``participant_user_id`` or email: a QoS entry is linked to its session by ``user_id``
        and to a directory user by ``id``. A waiting-room row has no samples (no media flows
        there; the sandbox's choice, Zoom does not document it)."""
        base = self.participant(account, meeting, p)
        keep = ("id", "user_id", "user_name", "device", "client", "ip_address", "location",
                "join_time", "leave_time", "pc_name", "domain", "mac_addr", "harddisk_id",
                "version", "internal_ip_addresses")
        out = {k: base[k] for k in keep}
        r = rng(meeting.seed, "quality", p)
        role = self.row_role(p)
        poor = p % 20 == 5 if role == "room" else r.random() < 0.15
        camera = r.random() < 0.7 or role == "room"
        sharing = base["share_desktop"]
        join, leave = self._attendance(meeting, p)
        first = int((join - meeting.start) // 60) + 1
        last = int((leave - meeting.start) // 60)
        out["user_qos"] = [] if role == "waiting" else [
            self._qos_sample(meeting, p, minute, poor, camera, sharing, role)
            for minute in range(first, max(first, last) + 1)
        ]
        return out

    def _qos_sample(self, meeting: Meeting, p: int, minute: int, poor: bool, camera: bool,
                    sharing: bool, role: str = "") -> dict:
        return qos_sample_draw(rng(meeting.seed, "qos", p, minute),
                               iso(meeting.start + minute * 60), poor=poor, camera=camera,
                               sharing=sharing, role=role)

    # -- the account overview (Dashboard home) ------------------------------------------------

    CLIENT_VERSIONS = ("6.4.6.62040", "6.3.11.60501", "6.2.5.45210", "5.17.11.34827",
                       "5.13.0.13815")
    ROOM_ISSUES = ("Zoom room is offline", "Room Controller disconnected",
                   "Selected camera is not connected", "Selected microphone is not connected",
                   "Low bandwidth network")

    def client_versions(self, account: Account) -> list[dict]:
        r = rng(self.seed, account.tag, "client_versions")
        return [{"client_version": v, "total_count": r.randint(1, max(1, account.total_users))}
                for v in self.CLIENT_VERSIONS]

    def zoom_room(self, account: Account, n: int) -> dict:
        r = rng(self.seed, account.tag, "room", n)
        status = r.choice(["Available", "Available", "InMeeting", "Offline", "UnderConstruction"])
        issues = []
        if status == "Offline":
            issues.append(self.ROOM_ISSUES[0])
        issues += [i for i in self.ROOM_ISSUES[1:] if r.random() < 0.2]
        health = ("critical" if status == "Offline" else "warning" if issues else "normal")
        location, _dc = LOCATIONS[n % len(LOCATIONS)]
        return {
            "id": self._encode(account, "room", n), "room_name": f"Room {n + 1}",
            "calender_name": f"room{n + 1}@{account.domain}",  # sic: Zoom's field name
            "email": f"room{n + 1}@{account.domain}", "account_type": "Work Email",
            "status": status, "device_ip": f"Computer : 10.1.0.{n + 1}",
            "camera": "Logitech Rally", "microphone": "Logitech Rally Mic Pod",
            "speaker": "Logitech Rally Speaker",
            "last_start_time": iso(self.epoch - 3600 * (n + 1)),
            "location": location, "location_id": long_id(self.seed, account.tag, "loc", n % 4),
            "health": health, "issues": issues,
        }

    def rooms(self, account: Account) -> list[dict]:
        return [self.zoom_room(account, n) for n in range(account.zoom_rooms)]
