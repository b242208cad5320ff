"""Micro-suggestions (微建言): one message to a room, with a receipt, answered by its convenors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from bot.services import moderation, outbox
from bot.services.proposals import Filed, insert_with_receipt
from bot.text import shorten
from storage.db import flushed
from storage.models import ConsultSession, Suggestion

MAX_ANSWER_CHARS = 500
UNANSWERED = ("submitted", "forwarded")

STATUS_NAMES = {"submitted": "已提交", "forwarded": "已转办", "answered": "已答复", "adopted": "已采纳"}


@dataclass(frozen=True)
class NewSuggestion:
    room_id: int
    person_id: int
    text: str
    session_id: int | None = None  # a session running in the room: its live page shows it (场外协商)
    held: bool = False  # it names a kept word (moderation.matches): public pages leave it out until 公开
    # Its answer's clock (clocks.suggestion_answer_due).
    answer_due_at: datetime | None = None
    escalate_at: datetime | None = None


def file(session: Session, *, new: NewSuggestion, now: datetime) -> Filed:
    """Store a 微建言 with its receipt: Core statements, as `proposals.file` (no unit of work for one row)."""
    connection = flushed(session)
    row = {
        "room_id": new.room_id,
        "person_id": new.person_id,
        "text": new.text,
        "status": "submitted",
        "session_id": new.session_id,
        "visibility": moderation.HELD if new.held else moderation.SHOWN,
        "answer_due_at": new.answer_due_at,
        "escalate_at": new.escalate_at,
        "created_at": now,
        "updated_at": now,
    }
    return insert_with_receipt(connection, _suggestions, row, prefix="WJ", year=now.year)


_suggestions = cast(Table, Suggestion.__table__)


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


def unanswered(session: Session, *, room_ids: list[int]) -> list[Suggestion]:
    """The rooms' micro-suggestions still waiting for an answer, oldest first (those past their limit:
    clocks.late_suggestions)."""
    if not room_ids:
        return []
    query = select(Suggestion).where(Suggestion.room_id.in_(room_ids), Suggestion.status.in_(UNANSWERED))
    return list(session.scalars(query.order_by(Suggestion.created_at, Suggestion.id)))


def locked(session: Session, *, suggestion_id: int | None = None, receipt: str | None = None) -> Suggestion | None:
    """The suggestion, row-locked so a click on the live page and a 回应 in chat cannot both answer it."""
    query = select(Suggestion).with_for_update(of=Suggestion)
    if suggestion_id is not None:
        query = query.where(Suggestion.id == suggestion_id)
    else:
        query = query.where(Suggestion.receipt == receipt)
    return session.scalars(query).first()


def answer(
    session: Session,
    *,
    note: Suggestion,
    text: str | None,
    now: datetime,
    consult: ConsultSession | None = None,
    by: int | None = None,
) -> bool:
    """Mark it answered and tell its sender (once); False, changing nothing, if it already was.

    `consult`: answered during that online/onsite session (场内回应), which the message names; `by`: who
    answered in chat (counted in their 履职档案; the live page's button names nobody)."""
    if note.status == "answered":
        return False
    words = shorten(text.strip(), MAX_ANSWER_CHARS) if text and text.strip() else None
    note.status = "answered"
    note.answer = words or "已在现场回应"
    note.answered_at = now
    note.answered_by_id = by
    note.updated_at = now
    said = f"：{words}" if words else "。"
    where = f"您在「{shorten(consult.title, 40)}」上提的微建言已得到现场回应" if consult else "您的微建言有了答复"
    # Outside the 48-hour window it goes as the result template, with its four fields (20 characters each).
    fields = {
        "item": shorten(note.text, 20),
        "result": shorten(note.answer, 20),
        "adopted": "已答复",
        "rating": note.receipt,
    }
    outbox.enqueue(
        session,
        person_id=note.person_id,
        kind="text",
        payload={
            "text": f"{where}{said}\n您的建言：{shorten(note.text, 40)}（{note.receipt}）",
            "template": "result",
            "fields": fields,
        },
        key=f"suggestion-answer:{note.id}",
        now=now,
    )
    return True


def waited(note: Suggestion, *, now: datetime) -> timedelta:
    return now - note.created_at
