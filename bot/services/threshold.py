"""The supporter threshold: SUPPORT_THRESHOLD 附议 within SUPPORT_THRESHOLD_DAYS of filing force an answer.

Reaching it (once per proposal, `threshold_reached_at`) puts the proposal at the top of 待审 with a
deadline (clocks.on_threshold: APPROVAL_WORKDAYS), tells the room's convenors at once, and tells the
proposer and every supporter by when the room will answer, in the transaction of the 附议 that did it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.services import clocks, outbox, staff_notices
from bot.services.privacy import mask_phones
from bot.settings import Settings
from bot.text import shorten
from storage.models import Proposal, ProposalSupporter


def supporters_in_window(session: Session, *, proposal: Proposal, days: int) -> int:
    """附议 given within `days` of the proposal's filing."""
    until = proposal.created_at + timedelta(days=days)
    found = session.scalar(
        select(func.count()).where(ProposalSupporter.proposal_id == proposal.id, ProposalSupporter.created_at <= until)
    )
    return int(found or 0)


def check(session: Session, *, proposal: Proposal, actor_id: int | None, now: datetime, settings: Settings) -> bool:
    """After a 附议: if this one reached the threshold, start the clock and tell everyone. True when it did.

    `actor_id`, who just supported it, reads the news in the reply instead of a second message."""
    if proposal.threshold_reached_at is not None or proposal.status not in clocks.WAITING:
        return False
    session.flush()
    count = supporters_in_window(session, proposal=proposal, days=settings.support_threshold_days)
    if count < settings.support_threshold:
        return False
    limits = clocks.Limits.of(settings)
    clocks.on_threshold(proposal, now=now, limits=limits)
    by = clocks.day_label(proposal.decision_due_at or now, settings.timezone)
    staff_notices.tell(
        session,
        room_id=proposal.room_id,
        line=(
            f"提议 {proposal.receipt}「{shorten(proposal.description, 30)}」已有 {count} 人附议，"
            f"已排在「待审」最前，请在 {by} 前答复（审定为协商议题，或不予采纳并说明理由）"
        ),
        now=now,
        settings=settings,
        urgent=True,
        key=f"threshold:{proposal.id}",
    )
    people = [proposal.proposer_id, *_supporters(session, proposal_id=proposal.id)]
    for person_id in people:
        if person_id == actor_id:
            continue
        whose = "您提交的" if person_id == proposal.proposer_id else "您附议的"
        text = proposal.description if person_id == proposal.proposer_id else mask_phones(proposal.description)
        outbox.enqueue(
            session,
            person_id=person_id,
            kind="text",
            payload={
                "text": f"{whose}提议 {proposal.receipt}「{shorten(text, 20)}」{news(count, by)}",
                "template": "result",
                "fields": {
                    "item": shorten(text, 20),
                    "result": f"已有 {count} 人附议",
                    "adopted": f"{by}前答复",
                    "rating": proposal.receipt or "",
                },
            },
            key=f"threshold:{proposal.id}:{person_id}",
            now=now,
        )
    return True


def news(count: int, by: str) -> str:
    """What the proposer and supporters read when the threshold is reached."""
    return f"已有 {count} 人附议，议事室将在 {by} 前答复。"


def _supporters(session: Session, *, proposal_id: int) -> list[int]:
    return list(
        session.scalars(
            select(ProposalSupporter.person_id)
            .where(ProposalSupporter.proposal_id == proposal_id)
            .order_by(ProposalSupporter.created_at, ProposalSupporter.person_id)
        )
    )
