"""Residents rating a published result: 满意 / 基本满意 / 不满意, optionally with a comment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services.proposals import change_status
from bot.text import shorten
from storage.models import ListItem, Proposal, ProposalStatus, ResultDelivery, Suggestion

RATING_NAMES = {"satisfied": "满意", "basically": "基本满意", "unsatisfied": "不满意"}

# Longest words first so 基本满意 / 不满意 win over 满意.
_WORDS: list[tuple[str, str]] = [
    ("不太满意", "unsatisfied"),
    ("很不满意", "unsatisfied"),
    ("非常不满意", "unsatisfied"),
    ("不满意", "unsatisfied"),
    ("不满", "unsatisfied"),
    ("基本满意", "basically"),
    ("基本满足", "basically"),
    ("比较满意", "basically"),
    ("还算满意", "basically"),
    ("一般", "basically"),
    ("还行", "basically"),
    ("非常满意", "satisfied"),
    ("很满意", "satisfied"),
    ("满意", "satisfied"),
    ("满易", "satisfied"),
    ("瞒意", "satisfied"),
]
_DIGITS = {
    "1": "satisfied",
    "2": "basically",
    "3": "unsatisfied",
    "１": "satisfied",
    "２": "basically",
    "３": "unsatisfied",
}


_APART = " ，,。.！!：:；;、～~"


def parse_rating(text: str, *, loose: bool = False) -> tuple[str, str | None] | None:
    """(rating, comment or None) when the message starts with a rating word standing on its own:
    alone, or set apart by punctuation or a space (不满意，灯还是不亮). 「不满意物业的服务态度」 and
    「一般晚上八点以后…」 are sentences, not ratings. With `loose` (the bot has just asked for a rating,
    numbered 1 满意 2 基本满意 3 不满意), the digits count too."""
    t = text.strip().lstrip("：:，, ")
    for word, rating in _WORDS:
        if t.startswith(word) and (len(t) == len(word) or t[len(word)] in _APART):
            return rating, _comment(t[len(word) :])
    if loose and t[:1] in _DIGITS and (len(t) == 1 or t[1] in _APART):
        return _DIGITS[t[:1]], _comment(t[1:])
    return None


def _comment(rest: str) -> str | None:
    rest = rest.strip().lstrip("，,。.：:!！ ").strip()
    return rest or None


def pending(session: Session, *, person_id: int) -> list[ResultDelivery]:
    """This person's delivered, not-yet-rated results, oldest first."""
    return list(
        session.scalars(
            select(ResultDelivery)
            .where(ResultDelivery.person_id == person_id, ResultDelivery.rated_at.is_(None))
            .order_by(ResultDelivery.delivered_at, ResultDelivery.id)
        ).all()
    )


def receipt_of(session: Session, delivery: ResultDelivery) -> str | None:
    if delivery.proposal_id is not None:
        return session.scalar(select(Proposal.receipt).where(Proposal.id == delivery.proposal_id))
    if delivery.suggestion_id is not None:
        return session.scalar(select(Suggestion.receipt).where(Suggestion.id == delivery.suggestion_id))
    return None


def label(session: Session, delivery: ResultDelivery) -> str:
    """How a result is named in a numbered choice and in replies: receipt, item and the result itself
    (one receipt may have several results)."""
    item = session.get(ListItem, delivery.item_id)
    receipt = receipt_of(session, delivery)
    text = shorten(item.text, 24) if item else ""
    if item is not None and item.result:
        text += f"（结果：{shorten(item.result, 20)}）"
    return f"{receipt} {text}" if receipt else text


def rate(session: Session, *, delivery: ResultDelivery, rating: str, comment: str | None, now: datetime) -> None:
    """Store the rating; the proposal becomes `rated` when its own proposer rates it."""
    delivery.rating = rating
    delivery.rating_comment = comment
    delivery.rated_at = now
    if delivery.proposal_id is None:
        return
    proposal = session.get(Proposal, delivery.proposal_id)
    if (
        proposal is not None
        and proposal.proposer_id == delivery.person_id
        and proposal.status == ProposalStatus.answered
    ):
        change_status(
            session,
            proposal=proposal,
            to=ProposalStatus.rated,
            actor_id=delivery.person_id,
            reason=RATING_NAMES[rating],  # the comment stays with the rating: supporters see the history
            now=now,
        )
