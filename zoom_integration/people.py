"""People, not join sessions: grouping the rows of Zoom's participants list.

Zoom lists a participant once per join ("their information will appear as many times as they
joined"), and a waiting-room stint is a row of its own (`status: in_waiting_room`). This module
owns the rule that turns those sessions into people, with no database and no HTTP:

- a session's identity is the first identifier it has, in this order: `participant_user_id`
  (the Users API id; Zoom's `id` is the same for signed-in users and stands in when the QoS list
  is the only source), `registrant_id`, `customer_key`, the email (case-insensitive);
- sessions with the same identity are one person; a session without any identifier is a person
  of its own (guests whose ids Zoom hides since 2023 cannot be told apart);
- waiting-room stints never make a person: they join the person with their identity, if that
  person was in the meeting, and otherwise belong to no one (kept, not counted).

Identities of different kinds are never merged (a session with only an email is not matched to a
signed-in user with that email): a stronger identifier present on one side and absent on the other
is no evidence that they are the same person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

WAITING_ROOM = "in_waiting_room"


class Session(Protocol):
    """What grouping reads of a session (a `ZoomParticipant`, saved or not)."""

    position: int
    participant_user_id: str
    zoom_participant_id: str
    registrant_id: str
    customer_key: str
    email: str
    in_waiting_room: bool


def session_identity(session: Session) -> tuple[str, str]:
    """(kind, key) of a session: kinds as in `IdentityKind`; ("session", position) when the
    session has no identifier."""
    user = (session.participant_user_id or session.zoom_participant_id or "").strip()
    if user:
        return "user", user
    for kind, value in (("registrant", session.registrant_id),
                        ("customer_key", session.customer_key)):
        value = (value or "").strip()
        if value:
            return kind, value
    email = (session.email or "").strip().lower()
    if email:
        return "email", email
    return "session", str(session.position)


@dataclass
class PersonGroup:
    """One person: their in-meeting sessions (`sessions`, in list order) and any waiting-room
    stints with the same identity (`waiting`)."""

    kind: str
    key: str
    sessions: list = field(default_factory=list)
    waiting: list = field(default_factory=list)


def people_group(sessions: list[Session]) -> tuple[list[PersonGroup], list[Session]]:
    """(people in order of their first session, waiting-room stints of no one who joined)."""
    people: dict[tuple[str, str], PersonGroup] = {}
    for session in sessions:
        if session.in_waiting_room:
            continue
        identity = session_identity(session)
        person = people.get(identity)
        if person is None:
            person = people[identity] = PersonGroup(*identity)
        person.sessions.append(session)
    orphans = []
    for session in sessions:
        if not session.in_waiting_room:
            continue
        person = people.get(session_identity(session))
        if person is None:
            orphans.append(session)
        else:
            person.waiting.append(session)
    return list(people.values()), orphans
