"""A room's public board (/rooms/<id>, data.json, data.csv): what anyone may read of its work, for a year.

Its topics and their status, sessions held against the yearly minimum, the three lists of each session,
the published results with their ratings, and 三率 where known. Nobody is named: proposers, supporters and
raters are only counted, and every phone number in what people wrote is masked (`privacy.mask_phones`).
Unpublished feedback is not shown.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import local
from bot.services import adoption, moderation, priority_rounds, qrcodes, rates, session_status, stats
from bot.services.privacy import mask_phones
from bot.services.proposals import STATUS_NAMES
from bot.services.rooms import LEVEL_NAMES
from bot.text import shorten
from storage.models import ConsultSession, ListItem, Proposal, ProposalSupporter, ResultDelivery, Room, RoomLevel

MAX_TOPICS = 200
MAX_SESSIONS = 50
HIDDEN_STATUSES = ("merged",)  # a merged proposal lives on in the one it joined


@dataclass(frozen=True)
class Topic:
    receipt: str
    text: str
    status: str
    supporters: int
    filed: str  # YYYY-MM-DD, local


@dataclass(frozen=True)
class Result:
    item: str
    result: str
    adoption: str
    satisfied: int
    basically: int
    unsatisfied: int
    published: str


@dataclass(frozen=True)
class Responsibility:
    item: str
    unit: str
    deadline: str
    progress: int


@dataclass(frozen=True)
class SessionLists:
    title: str
    when: str
    status: str
    place: str
    suggestions: list[str] = field(default_factory=list)
    responsibilities: list[Responsibility] = field(default_factory=list)
    feedback: list[Result] = field(default_factory=list)


@dataclass(frozen=True)
class Rates:
    """三率 of the room for the year: satisfaction from the ratings; response and completion rates where known."""

    satisfied: int
    basically: int
    unsatisfied: int
    satisfaction_rate: float | None
    response_rate: float | None
    completion_rate: float | None
    adoption_rate: float | None


@dataclass(frozen=True)
class Priority:
    rank: int
    receipt: str
    text: str
    score: float  # 0–100, Bradley–Terry strength on the room's pairs (bot/services/priorities.py)
    margin: float  # ±
    comparisons: int


@dataclass(frozen=True)
class Board:
    room_id: int
    room: str
    level: str
    year: int
    sessions_held: int
    sessions_minimum: int
    sessions_ahead: int
    rates: Rates
    topics: list[Topic]
    sessions: list[SessionLists]
    scans: int  # of the room's 民生码 and its items' codes
    priorities: list[Priority]  # the room's latest 排序 ranking, most urgent first (only items the board shows)

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def response_and_completion(
    session: Session, *, room_id: int, year: int, tz: ZoneInfo, now: datetime
) -> tuple[float | None, float | None]:
    """响应率 and 办结率 on the working-day clocks (bot/services/rates.py); None where nothing is due yet."""
    return (
        rates.response(session, room_id=room_id, year=year, tz=tz, now=now).rate,
        rates.completion(session, room_id=room_id, year=year, tz=tz, now=now).rate,
    )


def board(session: Session, *, room_id: int, now: datetime, tz: str, minimums: dict[str, int]) -> Board | None:
    room = session.get(Room, room_id)
    if room is None:
        return None
    zone = ZoneInfo(tz)
    year = local(now, tz).year
    held = stats.sessions_held_in_room(session, room_id=room_id, year=year, tz=zone, now=now)
    ahead = stats.sessions_ahead(session, year=year, tz=zone, now=now, room_id=room_id)
    level = LEVEL_NAMES[RoomLevel(room.level)] if room.level in RoomLevel.__members__ else room.level
    topics = _topics(session, room_id=room_id, tz=tz)
    return Board(
        room_id=room.id,
        room=room.name,
        level=level,
        year=year,
        sessions_held=held,
        sessions_minimum=stats.minimum(minimums, room.level),
        sessions_ahead=ahead,
        rates=_rates(session, room_id=room_id, year=year, zone=zone, now=now),
        topics=topics,
        sessions=_sessions(session, room_id=room_id, now=now, tz=tz),
        scans=sum(c.scans for c in qrcodes.scan_counts(session, room_id=room_id)),
        priorities=_priorities(session, room_id=room_id, shown={t.receipt for t in topics}),
    )


def _priorities(session: Session, *, room_id: int, shown: set[str]) -> list[Priority]:
    """The latest 排序 ranking, keeping only the topics the board shows (nothing held or closed), renumbered."""
    result = priority_rounds.ranking(session, room_id=room_id)
    rows = [(p, r) for p, r in (result.rows if result else []) if p.receipt in shown]
    return [
        Priority(n, p.receipt or "", shorten(mask_phones(p.description), 40), r.score, r.margin, r.comparisons)
        for n, (p, r) in enumerate(rows, 1)
    ]


def _rates(session: Session, *, room_id: int, year: int, zone: ZoneInfo, now: datetime) -> Rates:
    counts = stats.room_rating_counts(session, room_id=room_id, year=year, tz=zone)
    satisfaction = rates.satisfaction_of(counts)
    response, completion = response_and_completion(session, room_id=room_id, year=year, tz=zone, now=now)
    return Rates(
        satisfied=counts["satisfied"],
        basically=counts["basically"],
        unsatisfied=counts["unsatisfied"],
        satisfaction_rate=satisfaction,
        response_rate=response,
        completion_rate=completion,
        adoption_rate=stats.adoption_rate(session, room_id=room_id, year=year, tz=zone),
    )


def _topics(session: Session, *, room_id: int, tz: str) -> list[Topic]:
    supporters = (
        select(ProposalSupporter.proposal_id, func.count().label("n"))
        .group_by(ProposalSupporter.proposal_id)
        .subquery()
    )
    rows = session.execute(
        select(Proposal, func.coalesce(supporters.c.n, 0))
        .outerjoin(supporters, supporters.c.proposal_id == Proposal.id)
        .where(Proposal.room_id == room_id, Proposal.status.not_in(HIDDEN_STATUSES), moderation.visible(Proposal))
        .order_by(Proposal.created_at.desc(), Proposal.id.desc())
        .limit(MAX_TOPICS)
    ).all()
    return [
        Topic(
            receipt=p.receipt or "",
            text=mask_phones(p.description),
            status=STATUS_NAMES.get(p.status, p.status),
            supporters=int(n),
            filed=f"{local(p.created_at, tz):%Y-%m-%d}",
        )
        for p, n in rows
    ]


def _sessions(session: Session, *, room_id: int, now: datetime, tz: str) -> list[SessionLists]:
    consults = session.scalars(
        select(ConsultSession)
        .where(ConsultSession.room_id == room_id)
        .order_by(ConsultSession.starts_at.desc(), ConsultSession.id.desc())
        .limit(MAX_SESSIONS)
    ).all()
    items = session.scalars(
        select(ListItem)
        .where(ListItem.session_id.in_([c.id for c in consults]))
        .order_by(ListItem.session_id, ListItem.kind, ListItem.position, ListItem.id)
    ).all()
    ratings = _ratings_by_item(session, item_ids=[i.id for i in items if i.kind == "feedback"])
    out = []
    for consult in consults:
        mine = [i for i in items if i.session_id == consult.id]
        start = local(consult.starts_at, tz)
        out.append(
            SessionLists(
                title=mask_phones(consult.title),
                when=f"{start:%Y-%m-%d %H:%M}",
                status=session_status.name_of(consult, now),
                place=mask_phones(consult.place),
                suggestions=[mask_phones(i.text) for i in mine if i.kind == "suggestions"],
                responsibilities=[
                    Responsibility(
                        item=mask_phones(i.text),
                        unit=mask_phones(i.unit or ""),
                        deadline=f"{local(i.deadline, tz):%Y-%m-%d}" if i.deadline else "",
                        progress=i.progress,
                    )
                    for i in mine
                    if i.kind == "responsibilities"
                ],
                feedback=[
                    Result(
                        item=mask_phones(i.text),
                        result=mask_phones(i.result or ""),
                        adoption=adoption.name(i.adopted),
                        satisfied=ratings[i.id]["satisfied"],
                        basically=ratings[i.id]["basically"],
                        unsatisfied=ratings[i.id]["unsatisfied"],
                        published=f"{local(i.published_at, tz):%Y-%m-%d}",
                    )
                    for i in mine
                    if i.kind == "feedback" and i.published_at is not None
                ],
            )
        )
    return out


def _ratings_by_item(session: Session, *, item_ids: list[int]) -> dict[int, Counter[str]]:
    out: dict[int, Counter[str]] = {i: Counter() for i in item_ids}
    if not item_ids:
        return out
    for item_id, rating, n in session.execute(
        select(ResultDelivery.item_id, ResultDelivery.rating, func.count())
        .where(ResultDelivery.item_id.in_(item_ids), ResultDelivery.rating.is_not(None))
        .group_by(ResultDelivery.item_id, ResultDelivery.rating)
    ):
        out[int(item_id)][str(rating)] += int(n)
    return out
