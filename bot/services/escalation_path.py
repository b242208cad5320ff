"""Where an escalated proposal has been: its hops up the room tree (报上级) that were not sent back (退回).

Reading only, from the models: the review queue marks items that came from below, and the status
letters tell the lower rooms' convenors along the path. Acting on the path is `escalation.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Escalation, Proposal, Role, RoomRole

# What the lower room files the item as (the convenor picks); keys stored, names shown, in this order.
KINDS: dict[str, str] = {"clue": "提案线索", "opinion": "社情民意信息", "advice": "建议"}
KIND_ALIASES: dict[str, tuple[str, ...]] = {
    "clue": ("线索", "提案", "提案线索"),
    "opinion": ("社情民意", "民意", "社情民意信息", "社情"),
    "advice": ("建议",),
}


@dataclass(frozen=True)
class Hop:
    """One hop as the review queue shows it."""

    from_room: str
    to_room: str
    kind: str  # the Chinese name
    reason: str


def kind_name(kind: str) -> str:
    return KINDS.get(kind, kind)


def active(session: Session, *, proposal_id: int) -> list[Escalation]:
    """The hops not sent back, oldest first: the path from the originating room to the current one."""
    return list(
        session.scalars(
            select(Escalation)
            .where(Escalation.proposal_id == proposal_id, Escalation.returned_at.is_(None))
            .order_by(Escalation.created_at, Escalation.id)
        )
    )


def lower_rooms(session: Session, *, proposal_id: int) -> list[int]:
    """The rooms below the current one that the item passed through, nearest the origin first."""
    seen: list[int] = []
    for hop in active(session, proposal_id=proposal_id):
        if hop.from_room_id not in seen:
            seen.append(hop.from_room_id)
    return seen


def latest_in(session: Session, *, proposal: Proposal) -> Escalation | None:
    """The hop that brought the item into the room handling it now, if it came from below."""
    hops = [h for h in active(session, proposal_id=proposal.id) if h.to_room_id == proposal.room_id]
    return hops[-1] if hops else None


def latest_returned(session: Session, *, proposal_id: int) -> Escalation | None:
    return session.scalars(
        select(Escalation)
        .where(Escalation.proposal_id == proposal_id, Escalation.returned_at.is_not(None))
        .order_by(Escalation.returned_at.desc(), Escalation.id.desc())
        .limit(1)
    ).first()


def latest(session: Session, *, proposal_id: int) -> Escalation | None:
    return session.scalars(
        select(Escalation).where(Escalation.proposal_id == proposal_id).order_by(Escalation.id.desc()).limit(1)
    ).first()


def hops_in(session: Session, *, proposals: Iterable[Proposal]) -> dict[int, Hop]:
    """For each proposal that came into its current room from below, that hop (for the 待审 list)."""
    found: dict[int, Hop] = {}
    for proposal in proposals:
        hop = latest_in(session, proposal=proposal)
        if hop is None:
            continue
        found[proposal.id] = Hop(hop.from_room.name, hop.to_room.name, kind_name(hop.kind), hop.reason)
    return found


def convenor_ids(session: Session, *, room_id: int) -> list[int]:
    return list(
        session.scalars(
            select(RoomRole.person_id)
            .where(RoomRole.room_id == room_id, RoomRole.role == Role.convenor)
            .order_by(RoomRole.person_id)
        ).all()
    )
