"""场外协商、场内回应: micro-suggestions sent to a running online or onsite session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.context import Ctx
from bot.dialogs.engine import Data
from bot.handlers.registry import Command
from storage.models import ConsultSession, SessionFormat

# Only sessions residents can follow from outside the room take live comments.
LIVE_FORMATS = (SessionFormat.online.value, SessionFormat.onsite.value)


def running_live_session(session: Session, *, room_id: int, now: datetime) -> ConsultSession | None:
    """The room's online/onsite session running at `now`, if any (the latest started wins)."""
    return session.scalars(
        select(ConsultSession)
        .where(
            ConsultSession.room_id == room_id,
            ConsultSession.status == "scheduled",
            ConsultSession.format.in_(LIVE_FORMATS),
            ConsultSession.starts_at <= now,
            ConsultSession.ends_at >= now,
        )
        .order_by(ConsultSession.starts_at.desc(), ConsultSession.id.desc())
        .limit(1)
    ).first()


COMMANDS: list[Command] = []
# Effects of dialogs started here (name -> function), merged into bot/handlers/effects.py EFFECTS.
EFFECTS: dict[str, Callable[[Ctx, Data], list[str]]] = {}
