"""Members' records (履职档案): what each member and representative did in a year, and their stars.

For every session held in the year (ended, not cancelled: `session_status.held`) a person was invited to:

* **attended** (参加): marked present by the convenor after the session (`到会`); or, when nobody marked
  that session's attendance, they answered 参加;
* **excused** (请假): they answered 请假 and were not marked present;
* **absent** (缺席): anything else (no answer, or not marked present once marking was done).

Contributions: **topics** recommended (委员荐题: proposals they filed), **list suggestions** (lines of a
协商建议清单 recorded under their name, `@名字`) and **answers** (micro-suggestions they answered with
回应). Stars follow the office's rule (`star_rules`, edited in the admin; `DEFAULT_RULE` until it is):
the most stars whose row the person reaches, in attendance rate and in contributions. Nobody invited to
a held session has no rate and no stars.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.roles import INVITED, role_name
from bot.services import rsvp, session_status
from storage.models import (
    ConsultSession,
    ListItem,
    Person,
    Proposal,
    Room,
    RoomRole,
    SessionInvitee,
    StarRule,
    Suggestion,
)

ATTENDED, EXCUSED, ABSENT = "attended", "excused", "absent"
OUTCOME_NAMES = {ATTENDED: "参加", EXCUSED: "请假", ABSENT: "缺席"}


@dataclass(frozen=True)
class Rule:
    """★ × `stars` from `min_attendance` percent attendance and `min_contributions` contributions."""

    stars: int
    min_attendance: int
    min_contributions: int


DEFAULT_RULE: tuple[Rule, ...] = (
    Rule(1, 0, 0),
    Rule(2, 50, 0),
    Rule(3, 70, 1),
    Rule(4, 85, 2),
    Rule(5, 95, 3),
)


@dataclass(frozen=True)
class Attendance:
    """One held session a person was invited to, and how it went for them."""

    session_id: int
    title: str
    starts_at: datetime
    room_name: str
    outcome: str  # ATTENDED | EXCUSED | ABSENT


@dataclass
class Record:
    person_id: int
    name: str
    rooms: str  # 幸福社区议事室·委员；…
    sessions: list[Attendance] = field(default_factory=list)
    topics: int = 0
    list_suggestions: int = 0
    answers: int = 0
    stars: int | None = None

    def count(self, outcome: str) -> int:
        return sum(1 for a in self.sessions if a.outcome == outcome)

    @property
    def invited(self) -> int:
        return len(self.sessions)

    @property
    def attended(self) -> int:
        return self.count(ATTENDED)

    @property
    def excused(self) -> int:
        return self.count(EXCUSED)

    @property
    def absent(self) -> int:
        return self.count(ABSENT)

    @property
    def rate(self) -> float | None:
        """Attendance rate (attended / invited), None when invited to no held session."""
        return self.attended / self.invited if self.invited else None

    @property
    def contributions(self) -> int:
        return self.topics + self.list_suggestions + self.answers


def year_span(year: int, tz: str) -> tuple[datetime, datetime]:
    """The local calendar year as [start, end) instants."""
    zone = ZoneInfo(tz)
    return datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)


def star_rule(session: Session) -> tuple[Rule, ...]:
    """The office's rule, or DEFAULT_RULE while it has set none."""
    rows = session.scalars(select(StarRule).order_by(StarRule.stars)).all()
    if not rows:
        return DEFAULT_RULE
    return tuple(Rule(int(r.stars), int(r.min_attendance), int(r.min_contributions)) for r in rows)


def stars_for(record: Record, rule: Sequence[Rule]) -> int | None:
    """The most stars whose row the record reaches (0 when none), None with no held session invited to."""
    rate = record.rate
    if rate is None:
        return None
    reached = [r.stars for r in rule if rate * 100 >= r.min_attendance and record.contributions >= r.min_contributions]
    return max(reached, default=0)


def stars_text(stars: int | None) -> str:
    """★★★☆☆, or — without stars."""
    if stars is None:
        return "—"
    return "★" * stars + "☆" * (5 - stars)


def rule_text(rule: Sequence[Rule]) -> str:
    """The rule as the office reads it: ★★★：出席率 ≥ 70%，且履职贡献 ≥ 1 项."""
    return "；".join(
        f"{stars_text(r.stars).rstrip('☆')}：出席率 ≥ {r.min_attendance}%"
        + (f"，且贡献 ≥ {r.min_contributions} 项" if r.min_contributions else "")
        for r in rule
    )


def outcome_of(invitee: SessionInvitee, consult: ConsultSession) -> str:
    """Attended, excused or absent (the module's rule)."""
    if consult.attendance_marked_at is not None:
        if invitee.present:
            return ATTENDED
        return EXCUSED if invitee.rsvp == "leave" else ABSENT
    if invitee.rsvp == "attend":
        return ATTENDED
    return EXCUSED if invitee.rsvp == "leave" else ABSENT


def records(
    session: Session,
    *,
    year: int,
    tz: str,
    now: datetime,
    room_id: int | None = None,
    person_ids: Iterable[int] | None = None,
) -> list[Record]:
    """The year's record of every member and representative (of `room_id`, counting only that room's
    sessions, proposals, lists and micro-suggestions; else of every room), or of `person_ids`; by name."""
    start, end = year_span(year, tz)
    people = _people(session, room_id=room_id, person_ids=person_ids)
    if not people:
        return []
    ids = list(people)
    in_room = (lambda column: column == room_id) if room_id is not None else (lambda column: column.is_not(None))

    rows = session.execute(
        select(SessionInvitee, ConsultSession, Room.name)
        .join(ConsultSession, ConsultSession.id == SessionInvitee.session_id)
        .join(Room, Room.id == ConsultSession.room_id)
        .where(
            SessionInvitee.person_id.in_(ids),
            session_status.held(now),
            ConsultSession.starts_at >= start,
            ConsultSession.starts_at < end,
            in_room(ConsultSession.room_id),
        )
        .order_by(ConsultSession.starts_at, ConsultSession.id)
    ).all()
    for invitee, consult, room_name in rows:
        people[invitee.person_id].sessions.append(
            Attendance(consult.id, consult.title, consult.starts_at, room_name, outcome_of(invitee, consult))
        )

    topics = select(Proposal.proposer_id, func.count()).where(
        Proposal.proposer_id.in_(ids),
        Proposal.created_at >= start,
        Proposal.created_at < end,
        in_room(Proposal.room_id),
    )
    for person_id, n in session.execute(topics.group_by(Proposal.proposer_id)).all():
        people[person_id].topics = int(n)

    lines = (
        select(ListItem.person_id, func.count())
        .join(ConsultSession, ConsultSession.id == ListItem.session_id)
        .where(
            ListItem.kind == "suggestions",
            ListItem.person_id.in_(ids),
            ConsultSession.starts_at >= start,
            ConsultSession.starts_at < end,
            in_room(ConsultSession.room_id),
        )
    )
    for author_id, n in session.execute(lines.group_by(ListItem.person_id)).all():
        if author_id is not None:
            people[author_id].list_suggestions = int(n)

    answers = select(Suggestion.answered_by_id, func.count()).where(
        Suggestion.answered_by_id.in_(ids),
        Suggestion.answered_at >= start,
        Suggestion.answered_at < end,
        in_room(Suggestion.room_id),
    )
    for answerer_id, n in session.execute(answers.group_by(Suggestion.answered_by_id)).all():
        if answerer_id is not None:
            people[answerer_id].answers = int(n)

    rule = star_rule(session)
    for record in people.values():
        record.stars = stars_for(record, rule)
    return sorted(people.values(), key=lambda r: (r.name, r.person_id))


def _people(session: Session, *, room_id: int | None, person_ids: Iterable[int] | None) -> dict[int, Record]:
    """Members and representatives (of the room), or the people asked for, with the roles they hold."""
    query = (
        select(Person, Room.name, RoomRole.role)
        .join(RoomRole, RoomRole.person_id == Person.id)
        .join(Room, Room.id == RoomRole.room_id)
        .order_by(Person.id, Room.name)
    )
    if person_ids is not None:
        query = query.where(Person.id.in_(list(person_ids)))
    else:
        query = query.where(RoomRole.role.in_(list(INVITED)))
        if room_id is not None:
            query = query.where(RoomRole.room_id == room_id)
    found: dict[int, Record] = {}
    for person, room, role in session.execute(query).all():
        record = found.setdefault(person.id, Record(person.id, rsvp.display_name(person), ""))
        held = f"{room}·{role_name(role)}"
        record.rooms = f"{record.rooms}；{held}" if record.rooms else held
    return found


def mark_present(
    session: Session, *, consult: ConsultSession, person_ids: Iterable[int], now: datetime
) -> list[SessionInvitee]:
    """The convenor's 到会 after (or during) a session: these invitees came. From the first marking on,
    an invitee not marked present did not attend, whatever they answered."""
    wanted = set(person_ids)
    marked = [
        i
        for i in session.scalars(select(SessionInvitee).where(SessionInvitee.session_id == consult.id)).all()
        if i.person_id in wanted
    ]
    for invitee in marked:
        invitee.present = True
    if consult.attendance_marked_at is None:
        consult.attendance_marked_at = now
    consult.updated_at = now
    return marked
