"""Micro-suggestions (微建言): one message to a room, with a receipt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services.proposals import receipt_for
from storage.models import Suggestion

STATUS_NAMES = {"submitted": "已提交", "forwarded": "已转办", "answered": "已答复", "adopted": "已采纳"}


def file_suggestion(session: Session, *, room_id: int, person_id: int, text: str, now: datetime) -> Suggestion:
    suggestion = Suggestion(room_id=room_id, person_id=person_id, text=text, created_at=now, updated_at=now)
    session.add(suggestion)
    session.flush()
    suggestion.receipt = receipt_for("WJ", now.year, suggestion.id)
    return suggestion


def suggestions_of(session: Session, *, person_id: int) -> list[Suggestion]:
    return list(
        session.scalars(
            select(Suggestion)
            .where(Suggestion.person_id == person_id)
            .order_by(Suggestion.created_at.desc(), Suggestion.id.desc())
        )
    )


def by_receipt(session: Session, *, receipt: str) -> Suggestion | None:
    return session.scalars(select(Suggestion).where(Suggestion.receipt == receipt)).first()
