"""Statistics for the admin pages: pure read-only queries, no writes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bot.services import adoption, categories, session_status
from storage.models import Adoption, ConsultSession, ListItem, Proposal, ResultDelivery, Room


def minimum(minimums: Mapping[str, int], level: str) -> int:
    """The yearly minimum of held sessions for a room level (MIN_SESSIONS_PER_YEAR; 1 for a level it omits)."""
    return minimums.get(level, 1)


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


_YES, _PART, _WAIT, _NO = (
    adoption.NAMES[a] for a in (Adoption.adopted, Adoption.partly, Adoption.pending, Adoption.not_adopted)
)
ADOPTION_RULE = f"采纳率 =（{_YES} + {_PART}）÷（{_YES} + {_PART} + {_NO}），{_WAIT}不计入"


@dataclass(frozen=True)
class AdoptionCounts:
    """Published feedback items by adoption value; `unknown` holds items recorded without one.

    The adoption rate counts only items with a decision: (已采纳 + 部分采纳) / (已采纳 + 部分采纳 + 未采纳).
    部分采纳 counts as adopted (something of the suggestion was taken up); 待定 and items without a
    value are left out of both sides, so a decision still to come neither raises nor lowers the rate.
    """

    adopted: int = 0
    partly: int = 0
    pending: int = 0
    not_adopted: int = 0
    unknown: int = 0

    @property
    def decided(self) -> int:
        return self.adopted + self.partly + self.not_adopted

    @property
    def total(self) -> int:
        return self.decided + self.pending + self.unknown

    @property
    def rate(self) -> float | None:
        return (self.adopted + self.partly) / self.decided if self.decided else None

    def summary(self) -> str:
        """已采纳 2、部分采纳 1、未采纳 1；待定 1 条不计入 — the figures behind the rate, in words."""
        decided = f"{_YES} {self.adopted}、{_PART} {self.partly}、{_NO} {self.not_adopted}"
        left_out = [f"{_WAIT} {self.pending} 条"] if self.pending else []
        left_out += [f"未填写采纳情况 {self.unknown} 条"] if self.unknown else []
        return decided + (f"；{'、'.join(left_out)}不计入" if left_out else "")


_ADOPTION_VALUES = tuple(a.value for a in Adoption)


def adoption_counts(
    session: Session, *, room_id: int | None = None, year: int | None = None, tz: ZoneInfo | None = None
) -> AdoptionCounts:
    """Published feedback items by adoption value, of one room and of one year (local to `tz`, else UTC)."""
    stmt = (
        select(ListItem.adopted, ListItem.published_at)
        .join(ConsultSession, ConsultSession.id == ListItem.session_id)
        .where(ListItem.kind == "feedback", ListItem.published_at.is_not(None))
    )
    if room_id is not None:
        stmt = stmt.where(ConsultSession.room_id == room_id)
    zone = tz or ZoneInfo("UTC")
    counts = Counter(
        value if value in _ADOPTION_VALUES else "unknown"
        for value, published in session.execute(stmt).all()
        if year is None or (published is not None and _local_year(published, zone) == year)
    )
    return AdoptionCounts(**{field: counts[field] for field in (*_ADOPTION_VALUES, "unknown")})


def adoption_rate(
    session: Session, *, room_id: int | None = None, year: int | None = None, tz: ZoneInfo | None = None
) -> float | None:
    """`AdoptionCounts.rate` of the published feedback items; None while none has a decision."""
    return adoption_counts(session, room_id=room_id, year=year, tz=tz).rate


def proposals_by_status(session: Session, *, room_id: int | None = None) -> dict[str, int]:
    """Number of proposals in each status."""
    stmt = select(Proposal.status, func.count()).group_by(Proposal.status)
    if room_id is not None:
        stmt = stmt.where(Proposal.room_id == room_id)
    return {str(s): int(n) for s, n in session.execute(stmt).all()}


def proposals_by_category(session: Session, *, room_id: int | None = None) -> list[tuple[str, int]]:
    """Proposals per category of the fixed list (one in two categories counts in both), most first.

    Categories with no proposal are left out; ties keep the list's order.
    """
    stmt = select(Proposal.tags)
    if room_id is not None:
        stmt = stmt.where(Proposal.room_id == room_id)
    counter: Counter[str] = Counter()
    for tags in session.scalars(stmt):
        counter.update(categories.of_stored(tags))
    return sorted(((name, counter[name]) for name in categories.CATEGORIES if counter[name]), key=lambda c: -c[1])


def sessions_held(
    session: Session, *, year: int, tz: ZoneInfo, now: datetime, minimums: Mapping[str, int]
) -> list[tuple[int, str, str, int, int]]:
    """(room_id, room_name, level, held, minimum) for every room: sessions begun in `year` (local) and held
    by `now` (ended, not cancelled: `session_status.held`)."""
    held = _per_room(session, session_status.held(now), year=year, tz=tz)
    rooms = session.scalars(select(Room).order_by(Room.name)).all()
    return [(r.id, r.name, r.level, held[r.id], minimum(minimums, r.level)) for r in rooms]


def sessions_ahead(session: Session, *, year: int, tz: ZoneInfo, now: datetime, room_id: int | None = None) -> int:
    """Sessions of `year` (local) not held yet at `now`: scheduled or running, not cancelled."""
    counts = _per_room(session, session_status.ahead(now), year=year, tz=tz)
    return counts[room_id] if room_id is not None else sum(counts.values())


def _per_room(session: Session, which: ColumnElement[bool], *, year: int, tz: ZoneInfo) -> Counter[int]:
    counts: Counter[int] = Counter()
    for room_id, starts_at in session.execute(select(ConsultSession.room_id, ConsultSession.starts_at).where(which)):
        if _local_year(starts_at, tz) == year:
            counts[int(room_id)] += 1
    return counts


def _local_year(dt: datetime, tz: ZoneInfo) -> int:
    aware = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return aware.astimezone(tz).year


# --- for the monthly digest (bot/services/digest.py) -----------------------------------------------


def sessions_held_in_room(session: Session, *, room_id: int, year: int, tz: ZoneInfo, now: datetime) -> int:
    """Sessions of the room begun in `year` (local) and held by `now` (the same rule as `sessions_held`)."""
    return _per_room(session, session_status.held(now), year=year, tz=tz)[room_id]


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
    counts = room_rating_counts(session, room_id=room_id, year=year, tz=tz)
    total = sum(counts.values())
    return _rate(counts["satisfied"], counts["basically"], total), total


def room_rating_counts(session: Session, *, room_id: int, year: int, tz: ZoneInfo) -> Counter[str]:
    """满意 / 基本满意 / 不满意 given in `year` (local) to the room's results."""
    rows = session.execute(
        select(ResultDelivery.rating, ResultDelivery.rated_at)
        .join(ListItem, ListItem.id == ResultDelivery.item_id)
        .join(ConsultSession, ConsultSession.id == ListItem.session_id)
        .where(ConsultSession.room_id == room_id, ResultDelivery.rated_at.is_not(None))
    ).all()
    return Counter(
        rating for rating, rated_at in rows if rating in RATINGS and rated_at and _local_year(rated_at, tz) == year
    )
