"""三率 per room and year: response, completion and satisfaction (docs/clocks.md). Read-only queries on the
due dates the clocks stored (bot/services/clocks.py); the statistics page, the monthly digest and the
Excel export all read them from here.

- 响应率: of the proposals and 微建言 filed in the year whose answer is given or due, those answered
  within the limit (a proposal's first answer: 受理, 合并, 不予采纳 or 审定; a 微建言's 回应 or result).
  Items still within their limit and unanswered are left out until they are answered or late.
- 办结率: of the responsibility items due in the year that are done or past their deadline, those done
  (100% or answered by a published result) by their deadline.
- 满意率: (满意 + 基本满意) ÷ ratings given in the year to the room's results (stats.room_satisfaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import stats
from storage.models import ConsultSession, ListItem, Proposal, Room, Suggestion


@dataclass(frozen=True)
class Rate:
    met: int
    total: int

    @property
    def rate(self) -> float | None:
        return self.met / self.total if self.total else None

    def percent(self) -> str:
        return "暂无" if self.rate is None else f"{round(self.rate * 100)}%"

    def text(self) -> str:
        """`80%（4/5）` or `暂无`."""
        return self.percent() + (f"（{self.met}/{self.total}）" if self.total else "")


@dataclass(frozen=True)
class ThreeRates:
    room_id: int
    room_name: str
    response: Rate
    completion: Rate
    satisfaction: Rate


def _in_year(moment: datetime, year: int, tz: ZoneInfo) -> bool:
    return moment.astimezone(tz).year == year


def _on_time(rows: list[tuple[datetime, datetime | None]], *, now: datetime) -> Rate:
    """(due, done) pairs: counted once done or due; met when done before the due moment."""
    counted = [(due, done) for due, done in rows if done is not None or due <= now]
    return Rate(len([1 for due, done in counted if done is not None and done < due]), len(counted))


def response(session: Session, *, room_id: int, year: int, tz: ZoneInfo, now: datetime) -> Rate:
    proposals = session.execute(
        select(Proposal.created_at, Proposal.answer_due_at, Proposal.first_answered_at).where(
            Proposal.room_id == room_id, Proposal.answer_due_at.is_not(None)
        )
    ).all()
    notes = session.execute(
        select(Suggestion.created_at, Suggestion.answer_due_at, Suggestion.answered_at).where(
            Suggestion.room_id == room_id, Suggestion.answer_due_at.is_not(None)
        )
    ).all()
    rows = [(due, done) for filed, due, done in [*proposals, *notes] if due is not None and _in_year(filed, year, tz)]
    return _on_time(rows, now=now)


def completion(session: Session, *, room_id: int, year: int, tz: ZoneInfo, now: datetime) -> Rate:
    items = session.execute(
        select(ListItem.deadline, ListItem.answered_at)
        .join(ConsultSession, ConsultSession.id == ListItem.session_id)
        .where(
            ConsultSession.room_id == room_id,
            ConsultSession.status != "cancelled",
            ListItem.kind == "responsibilities",
            ListItem.deadline.is_not(None),
        )
    ).all()
    # A deadline is the end of its day (23:59 local): done at that minute is on time.
    rows = [(deadline, done) for deadline, done in items if deadline is not None and _in_year(deadline, year, tz)]
    counted = [(due, done) for due, done in rows if done is not None or due <= now]
    return Rate(len([1 for due, done in counted if done is not None and done <= due]), len(counted))


def satisfaction(session: Session, *, room_id: int, year: int, tz: ZoneInfo) -> Rate:
    counts = stats.room_rating_counts(session, room_id=room_id, year=year, tz=tz)
    return Rate(counts["satisfied"] + counts["basically"], sum(counts.values()))


def satisfaction_of(counts: Mapping[str, int]) -> float | None:
    """满意 + 基本满意 of those rated, from the counts of stats.room_rating_counts."""
    return Rate(counts.get("satisfied", 0) + counts.get("basically", 0), sum(counts.values())).rate


def of_room(session: Session, *, room: Room, year: int, tz: str, now: datetime) -> ThreeRates:
    zone = ZoneInfo(tz)
    return ThreeRates(
        room.id,
        room.name,
        response(session, room_id=room.id, year=year, tz=zone, now=now),
        completion(session, room_id=room.id, year=year, tz=zone, now=now),
        satisfaction(session, room_id=room.id, year=year, tz=zone),
    )


def by_room(session: Session, *, year: int, tz: str, now: datetime) -> list[ThreeRates]:
    """Every room's 三率 for `year` (local), in the order rooms were made."""
    rooms = session.scalars(select(Room).order_by(Room.id)).all()
    return [of_room(session, room=room, year=year, tz=tz, now=now) for room in rooms]
