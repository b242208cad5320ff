"""Statistics for the admin pages: pure read-only queries, no writes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import ConsultSession, ListItem, Proposal, ResultDelivery, Room

# Yearly minimum of held sessions per room level; one table so settings can override it later.
MIN_SESSIONS: dict[str, int] = {"town": 2, "village": 3, "enterprise": 1, "sector": 1}

RATINGS = ("satisfied", "basically", "unsatisfied")


@dataclass(frozen=True)
class RoomRatings:
    room_id: int
    room_name: str
    satisfied: int
    basically: int
    unsatisfied: int
    total: int
    satisfaction_rate: float | None  # (satisfied + basically) / total


@dataclass(frozen=True)
class SessionRatings:
    session_id: int
    title: str
    satisfied: int
    basically: int
    unsatisfied: int
    total: int


def _rate(satisfied: int, basically: int, total: int) -> float | None:
    return (satisfied + basically) / total if total else None


def _counts(rows: list[tuple[int, str | None, int]]) -> dict[int, Counter[str]]:
    out: dict[int, Counter[str]] = {}
    for key, rating, n in rows:
        if rating in RATINGS:
            out.setdefault(key, Counter())[rating] += n
    return out


def ratings_by_session(session: Session, *, room_id: int | None = None) -> list[SessionRatings]:
    """Rated deliveries counted per consultation session, newest session first."""
    stmt = (
        select(ConsultSession.id, ResultDelivery.rating, func.count())
        .join(ListItem, ListItem.session_id == ConsultSession.id)
        .join(ResultDelivery, ResultDelivery.item_id == ListItem.id)
        .where(ResultDelivery.rating.is_not(None))
        .group_by(ConsultSession.id, ResultDelivery.rating)
    )
    if room_id is not None:
        stmt = stmt.where(ConsultSession.room_id == room_id)
    counts = _counts([(int(a), b, int(c)) for a, b, c in session.execute(stmt).all()])
    if not counts:
        return []
    sessions = session.scalars(
        select(ConsultSession).where(ConsultSession.id.in_(counts)).order_by(ConsultSession.starts_at.desc())
    ).all()
    return [
        SessionRatings(
            s.id,
            s.title,
            counts[s.id]["satisfied"],
            counts[s.id]["basically"],
            counts[s.id]["unsatisfied"],
            sum(counts[s.id].values()),
        )
        for s in sessions
    ]


def ratings_by_room(session: Session) -> list[RoomRatings]:
    """Rated deliveries counted per room, rooms ordered by name."""
    stmt = (
        select(ConsultSession.room_id, ResultDelivery.rating, func.count())
        .join(ListItem, ListItem.session_id == ConsultSession.id)
        .join(ResultDelivery, ResultDelivery.item_id == ListItem.id)
        .where(ResultDelivery.rating.is_not(None))
        .group_by(ConsultSession.room_id, ResultDelivery.rating)
    )
    counts = _counts([(int(a), b, int(c)) for a, b, c in session.execute(stmt).all()])
    if not counts:
        return []
    rooms = session.scalars(select(Room).where(Room.id.in_(counts)).order_by(Room.name)).all()
    out = []
    for r in rooms:
        c = counts[r.id]
        total = sum(c.values())
        out.append(
            RoomRatings(
                r.id,
                r.name,
                c["satisfied"],
                c["basically"],
                c["unsatisfied"],
                total,
                _rate(c["satisfied"], c["basically"], total),
            )
        )
    return out


def adoption_rate(session: Session, *, room_id: int | None = None, year: int | None = None) -> float | None:
    """Adopted feedback items / all published feedback items; None when nothing is published."""
    stmt = (
        select(ListItem.adopted)
        .join(ConsultSession, ConsultSession.id == ListItem.session_id)
        .where(ListItem.kind == "feedback", ListItem.published_at.is_not(None))
    )
    if room_id is not None:
        stmt = stmt.where(ConsultSession.room_id == room_id)
    rows = session.execute(stmt.add_columns(ListItem.published_at)).all()
    values = [adopted for adopted, published in rows if year is None or published.year == year]
    if not values:
        return None
    return sum(1 for v in values if v) / len(values)


def proposals_by_status(session: Session, *, room_id: int | None = None) -> dict[str, int]:
    """Number of proposals in each status."""
    stmt = select(Proposal.status, func.count()).group_by(Proposal.status)
    if room_id is not None:
        stmt = stmt.where(Proposal.room_id == room_id)
    return {str(s): int(n) for s, n in session.execute(stmt).all()}


def proposals_by_tag(session: Session, *, room_id: int | None = None, top: int = 10) -> list[tuple[str, int]]:
    """Most frequent proposal categories (the jieba tags stored on each proposal)."""
    stmt = select(Proposal.tags)
    if room_id is not None:
        stmt = stmt.where(Proposal.room_id == room_id)
    counter: Counter[str] = Counter()
    for tags in session.scalars(stmt).all():
        for tag in (tags or "").replace("，", ",").replace(" ", ",").split(","):
            if tag.strip():
                counter[tag.strip()] += 1
    return counter.most_common(top)


def sessions_held(session: Session, *, year: int, tz: ZoneInfo) -> list[tuple[int, str, str, int, int]]:
    """(room_id, room_name, level, held, minimum) for every room: non-cancelled sessions started in `year` (local)."""
    held: Counter[int] = Counter()
    for room_id, starts_at in session.execute(
        select(ConsultSession.room_id, ConsultSession.starts_at).where(ConsultSession.status != "cancelled")
    ).all():
        if _local_year(starts_at, tz) == year:
            held[int(room_id)] += 1
    rooms = session.scalars(select(Room).order_by(Room.name)).all()
    return [(r.id, r.name, r.level, held[r.id], MIN_SESSIONS.get(r.level, 1)) for r in rooms]


def _local_year(dt: datetime, tz: ZoneInfo) -> int:
    aware = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return aware.astimezone(tz).year


# --- for the monthly digest (bot/services/digest.py) -----------------------------------------------


def sessions_held_in_room(session: Session, *, room_id: int, year: int, tz: ZoneInfo, until: datetime) -> int:
    """Non-cancelled sessions of the room that began in `year` (local) no later than `until`."""
    starts = session.scalars(
        select(ConsultSession.starts_at).where(
            ConsultSession.room_id == room_id,
            ConsultSession.status != "cancelled",
            ConsultSession.starts_at <= until,
        )
    ).all()
    return sum(1 for s in starts if _local_year(s, tz) == year)


def open_proposals_by_status(session: Session, *, room_id: int) -> dict[str, int]:
    """The room's proposals still being handled (not merged, declined, answered or rated), by status."""
    closed = ("merged", "declined", "answered", "rated")
    return {
        status: count
        for status, count in proposals_by_status(session, room_id=room_id).items()
        if status not in closed and count
    }


def room_satisfaction(session: Session, *, room_id: int, year: int, tz: ZoneInfo) -> tuple[float | None, int]:
    """(satisfied + basically) / ratings given in `year` (local) to the room's results, and that count."""
    rows = session.execute(
        select(ResultDelivery.rating, ResultDelivery.rated_at)
        .join(ListItem, ListItem.id == ResultDelivery.item_id)
        .join(ConsultSession, ConsultSession.id == ListItem.session_id)
        .where(ConsultSession.room_id == room_id, ResultDelivery.rated_at.is_not(None))
    ).all()
    counts = Counter(
        rating for rating, rated_at in rows if rating in RATINGS and rated_at and _local_year(rated_at, tz) == year
    )
    total = sum(counts.values())
    return _rate(counts["satisfied"], counts["basically"], total), total
