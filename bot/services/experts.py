"""Expertise tags (专长) and 直通车: people of the whole district whose tags match a session's topics.

A person's tags are a few words (交通 规划, 养老, 路灯), space-separated in `people.expertise`, set by the
person (`专长 交通 规划`) or in the admin: together they are the 专家人才资源库. When a convenor schedules
a session, `suggest` offers up to five people to invite, from every room of the district: the rooms of the session's district room's tree and rooms not
placed under any district (with no district room above the session's room, every room).

A tag matches a session when it
* names one of the topics' categories (交通 → 交通出行, `bot/services/categories.py`), or is a word of
  a synonym group of that category (停车 → 交通出行): 1 point;
* is one of the topics' problems or keywords (`bot/services/keywords.py`: 路灯 meets 路灯坏了) or is
  written in the topics' text: 2 points.
People are ranked by their points, then by name; already invited people and the convenor are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import categories, keywords, rsvp
from bot.services.rooms import ancestors
from storage.models import ConsultSession, Person, Proposal, Room, RoomLevel, RoomRole, SessionInvitee, SessionTopic

MAX_TAGS = 8
MAX_TAG_LENGTH = 10
MAX_SUGGESTED = 5
_SPLIT = re.compile(r"[\s,，、;；/]+")


def parse_tags(text: str) -> list[str]:
    """`交通、规划 交通` -> [交通, 规划]: words of 2 to MAX_TAG_LENGTH characters, each once, at most MAX_TAGS."""
    words = [w.strip() for w in _SPLIT.split(text) if w.strip()]
    kept = [w for w in dict.fromkeys(words) if 2 <= len(w) <= MAX_TAG_LENGTH]
    return kept[:MAX_TAGS]


def tags_of(person: Person) -> list[str]:
    return (person.expertise or "").split()


def set_tags(person: Person, tags: Iterable[str]) -> None:
    person.expertise = " ".join(tags) or None


@dataclass(frozen=True)
class Topic:
    """What a session is about, as tags are matched against it."""

    text: str
    categories: frozenset[str]
    terms: frozenset[str]  # synonym group names and keywords


def topic_of(session: Session, *, consult: ConsultSession) -> Topic:
    ids = select(SessionTopic.proposal_id).where(SessionTopic.session_id == consult.id)
    proposals = session.scalars(select(Proposal).where(Proposal.id.in_(ids))).all()
    text = "\n".join([consult.title, *(p.description for p in proposals)])
    terms = keywords.analyse(text)
    found = set(categories.assign(dict(terms.groups)))
    for proposal in proposals:
        found.update(categories.of_stored(proposal.tags))
    found.discard(categories.OTHER)
    return Topic(text, frozenset(found), frozenset(terms.problem))


def score(tags: Iterable[str], topic: Topic) -> int:
    """Points of a person's tags for the topic (the module's rule)."""
    points = 0
    for tag in tags:
        if tag in topic.terms or tag in topic.text:
            points += 2
            continue
        named = {c for c in topic.categories if tag in c or c in tag}
        groups = keywords.analyse(tag).groups
        named |= {categories.GROUP_CATEGORY.get(name, "") for name, _ in groups} & topic.categories
        if any(name in topic.terms for name, _ in groups):
            points += 2
        elif named:
            points += 1
    return points


@dataclass(frozen=True)
class Expert:
    person_id: int
    name: str
    room: str
    tags: str
    points: int


def _root(session: Session, room: Room) -> Room:
    chain = ancestors(session, room)
    return chain[-1] if chain else room


def district_rooms(session: Session, *, room: Room) -> dict[int, str]:
    """Every room of the room's district: id -> name (rooms under another district room left out)."""
    mine = _root(session, room)
    found: dict[int, str] = {}
    for other in session.scalars(select(Room).order_by(Room.id)).all():
        root = _root(session, other)
        if root.id == mine.id or root.level != RoomLevel.district or mine.level != RoomLevel.district:
            found[other.id] = other.name
    return found


def suggest(session: Session, *, consult: ConsultSession, limit: int = MAX_SUGGESTED) -> list[Expert]:
    """Up to `limit` people of the district whose tags match the session's topics, best first."""
    rooms = district_rooms(session, room=consult.room)
    invited = select(SessionInvitee.person_id).where(SessionInvitee.session_id == consult.id)
    rows = session.execute(
        select(Person, RoomRole.room_id)
        .join(RoomRole, RoomRole.person_id == Person.id)
        .where(
            Person.expertise.is_not(None),
            Person.expertise != "",
            Person.id.not_in(invited),
            RoomRole.room_id.in_(list(rooms)),
        )
        .order_by(Person.id, RoomRole.room_id)
    ).all()
    if not rows:
        return []
    topic = topic_of(session, consult=consult)
    found: dict[int, Expert] = {}
    for person, room_id in rows:
        if person.id in found or person.id == consult.convenor_id:
            continue
        points = score(tags_of(person), topic)
        if points:
            found[person.id] = Expert(
                person.id, rsvp.display_name(person), rooms[room_id], " ".join(tags_of(person)), points
            )
    return sorted(found.values(), key=lambda e: (-e.points, e.name, e.person_id))[:limit]
