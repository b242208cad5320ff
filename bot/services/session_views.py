"""The sessions a person sees in 我的会议, 参加 / 请假 and 出席情况: those still ahead, and those
held or cancelled lately. Each is shown with its status from `session_status`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.services import session_status
from storage.models import ConsultSession, SessionInvitee


def upcoming_for(session: Session, *, person_id: int, now: datetime) -> list[ConsultSession]:
    """Scheduled sessions the person is invited to that have not begun, soonest first."""
    return list(
        session.scalars(
            select(ConsultSession)
            .join(SessionInvitee, SessionInvitee.session_id == ConsultSession.id)
            .where(
                SessionInvitee.person_id == person_id,
                ConsultSession.status != session_status.CANCELLED,
                ConsultSession.starts_at > now,
            )
            .order_by(ConsultSession.starts_at, ConsultSession.id)
        )
    )


def upcoming_in_rooms(session: Session, *, room_ids: list[int], now: datetime) -> list[ConsultSession]:
    """The rooms' sessions not yet over (running ones too), soonest first."""
    return list(
        session.scalars(
            select(ConsultSession)
            .where(
                ConsultSession.room_id.in_(room_ids),
                session_status.ahead(now),  # 已安排 or 进行中
            )
            .order_by(ConsultSession.starts_at, ConsultSession.id)
        )
    )


RECENT = timedelta(days=30)  # 我的会议 lists sessions held or cancelled this recently
RECENT_LISTED = 5


def recent_for(session: Session, *, person_id: int, room_ids: list[int], now: datetime) -> list[ConsultSession]:
    """Sessions the person was invited to or convenes (`room_ids`) that have begun or were cancelled, due
    within the last RECENT, most recent first."""
    invited = select(SessionInvitee.session_id).where(SessionInvitee.person_id == person_id)
    return list(
        session.scalars(
            select(ConsultSession)
            .where(
                or_(ConsultSession.id.in_(invited), ConsultSession.room_id.in_(room_ids)),
                ConsultSession.starts_at >= now - RECENT,
                or_(ConsultSession.status == session_status.CANCELLED, ConsultSession.starts_at <= now),
            )
            .order_by(ConsultSession.starts_at.desc(), ConsultSession.id.desc())
            .limit(RECENT_LISTED)
        )
    )
