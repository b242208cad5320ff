"""The convenor's review queue (待审): which proposals wait, and accepting, merging, declining, approving.

Every rule of SPEC §3's lifecycle that a convenor can break is checked here, before anything is
written: only a convenor of the proposal's room may act, and only along a valid transition. Each
change goes into the status history and the news goes to the outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.services import clocks, escalation_path, notify, photos, proposals
from bot.services.escalation_path import Hop
from bot.services.photos import PhotoLinks
from bot.services.proposals import CLOSED, STATUS_NAMES
from bot.text import shorten
from storage.models import Proposal, ProposalStatus, ProposalSupporter, Role, Room, RoomRole, StatusChange

# Escalated items wait in the upper room's queue, returned ones in the lower room's, as new ones do.
QUEUE_STATUSES = (ProposalStatus.submitted, ProposalStatus.accepted, ProposalStatus.escalated, ProposalStatus.returned)
_FRESH = frozenset({ProposalStatus.accepted, ProposalStatus.merged, ProposalStatus.declined, ProposalStatus.approved})
TRANSITIONS: dict[str, frozenset[str]] = {
    ProposalStatus.submitted: _FRESH,
    ProposalStatus.escalated: _FRESH,
    ProposalStatus.returned: _FRESH,
    ProposalStatus.accepted: frozenset({ProposalStatus.merged, ProposalStatus.declined, ProposalStatus.approved}),
}
ACTION_STATUS: dict[str, ProposalStatus] = {
    "accept": ProposalStatus.accepted,
    "merge": ProposalStatus.merged,
    "decline": ProposalStatus.declined,
    "approve": ProposalStatus.approved,
}
ACTION_NAMES = {
    "accept": "受理",
    "merge": "合并",
    "decline": "不予采纳",
    "approve": "审定为协商议题",
    "escalate": "报上级",
    "return": "退回下级",
}
HOP_ACTIONS = ("escalate", "return")  # moves along the room tree (services/escalation.py), not a transition
SUMMARY_CHARS = 24


class ReviewError(Exception):
    """A review action that is not allowed; the message is a plain sentence for the convenor."""


def item_refusal(item: Mapping[str, Any], action: str) -> str | None:
    """Why `action` cannot be done to the proposal as the review dialog keeps it, or None (pure)."""
    status = item["status"]
    if action not in HOP_ACTIONS:
        return refusal(status, action)
    if status in CLOSED:
        return f"这条提议已经是「{STATUS_NAMES.get(status, status)}」，不能再{ACTION_NAMES[action]}。"
    if action == "escalate" and not item.get("parent"):
        return f"「{item['room_name']}」没有上级议事室，不能报上级。如需设置，请联系政协办管理员。"
    if action == "return" and not item.get("from_room"):
        return "这条提议不是下级议事室报送来的，不能退回。"
    return None


def refusal(status: str, action: str) -> str | None:
    """Why `action` cannot be done to a proposal in `status`, or None when it can (pure)."""
    to = ACTION_STATUS[action]
    if to in TRANSITIONS.get(status, frozenset()):
        return None
    now_name = STATUS_NAMES.get(status, status)
    if status == to:
        return f"这条提议已经是「{now_name}」了，不用再{ACTION_NAMES[action]}。"
    return f"这条提议现在是「{now_name}」，不能再{ACTION_NAMES[action]}。"


# --- reading ---------------------------------------------------------------------------------


def convened_rooms(session: Session, *, person_id: int) -> list[Room]:
    """Rooms the person convenes, the one of their first convenor role first."""
    return list(
        session.scalars(
            select(Room)
            .join(RoomRole, RoomRole.room_id == Room.id)
            .where(RoomRole.person_id == person_id, RoomRole.role == Role.convenor)
            .order_by(RoomRole.created_at, RoomRole.id)
        )
    )


def is_convenor(session: Session, *, person_id: int, room_id: int) -> bool:
    found = session.scalars(
        select(RoomRole.id).where(
            RoomRole.person_id == person_id, RoomRole.room_id == room_id, RoomRole.role == Role.convenor
        )
    ).first()
    return found is not None


@dataclass(frozen=True)
class Queue:
    items: list[dict[str, Any]]
    total: int


def queue(session: Session, *, room_id: int, limit: int, links: PhotoLinks | None = None) -> Queue:
    """The room's proposals waiting for review: those past the supporter threshold first (soonest due
    first), then the others (submitted, and accepted ones), newest first."""
    waiting = (Proposal.room_id == room_id) & Proposal.status.in_(list(QUEUE_STATUSES))
    total = session.scalar(select(func.count()).select_from(Proposal).where(waiting)) or 0
    forced = case((Proposal.threshold_reached_at.is_not(None), 0), else_=1)
    # Only the forced ones go by their deadline: the others' 审定 dates (set at 受理) must not reorder them,
    # and NULLs sort first on SQLite but last on PostgreSQL — the same list on both.
    due = case((Proposal.threshold_reached_at.is_not(None), Proposal.decision_due_at), else_=None)
    rows = list(
        session.scalars(
            select(Proposal)
            .where(waiting)
            .order_by(forced, due.asc().nulls_last(), Proposal.created_at.desc(), Proposal.id.desc())
            .limit(limit)
        )
    )
    counts = proposals.supporter_counts(session, proposal_ids=[p.id for p in rows])
    kept = photos.of_items(session, kind=photos.PROPOSAL, ids=[p.id for p in rows])
    hops = escalation_path.hops_in(session, proposals=rows)
    items = [item_data(p, counts.get(p.id, 0), _media(p.id, kept[p.id], links), hops.get(p.id)) for p in rows]
    return Queue(items, total)


def _media(proposal_id: int, kept: photos.Kept, links: PhotoLinks | None) -> list[str]:
    return photos.lines(kept, links.page(photos.PROPOSAL, proposal_id) if links is not None else None)


def item_data(proposal: Proposal, supporters: int, media: list[str], hop: Hop | None = None) -> dict[str, Any]:
    """What the review dialog keeps of a proposal: enough to show it in full without asking again.
    `media`: its photo and place lines for convenors (photos.lines, with the signed link); `hop`: how
    it came from the room below, when it did."""
    parent = proposal.room.parent
    return {
        "id": proposal.id,
        "receipt": proposal.receipt or "",
        "room_id": proposal.room_id,
        "room_name": proposal.room.name,
        "status": proposal.status,
        "summary": shorten(proposal.description, SUMMARY_CHARS),
        "description": proposal.description,
        "tags": proposal.tags,
        "supporters": supporters,
        "created_at": proposal.created_at.isoformat(),
        "location": proposal.location_label or "",
        "media": media,
        "phone": proposal.phone_masked or "",
        "parent": parent.name if parent is not None else "",
        "from_room": hop.from_room if hop else "",
        "hop_kind": hop.kind if hop else "",
        "hop_reason": hop.reason if hop else "",
        "due": proposal.answer_due_at.isoformat() if proposal.answer_due_at is not None else "",
        "forced": proposal.threshold_reached_at is not None,
        "decide_by": proposal.decision_due_at.isoformat() if proposal.decision_due_at is not None else "",
    }


def item_by_receipt(session: Session, *, receipt: str, links: PhotoLinks | None = None) -> dict[str, Any] | None:
    proposal = proposals.by_receipt(session, receipt=receipt)
    if proposal is None:
        return None
    counts = proposals.supporter_counts(session, proposal_ids=[proposal.id])
    kept = photos.of_item(session, kind=photos.PROPOSAL, item_id=proposal.id)
    hop = escalation_path.hops_in(session, proposals=[proposal]).get(proposal.id)
    return item_data(proposal, counts.get(proposal.id, 0), _media(proposal.id, kept, links), hop)


def load(session: Session, *, proposal_id: int) -> Proposal | None:
    """The proposal, locked: two convenors acting on it at once take turns."""
    return session.scalars(select(Proposal).where(Proposal.id == proposal_id).with_for_update(of=Proposal)).first()


# --- acting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    change: StatusChange
    told: int  # how many people were notified
    path: int = 0  # how many convenors of the rooms below (an escalated item's path) were told


def _check(session: Session, *, proposal: Proposal, action: str, actor_id: int) -> None:
    if not is_convenor(session, person_id=actor_id, room_id=proposal.room_id):
        raise ReviewError(f"{proposal.receipt} 属于「{proposal.room.name}」，您不是这个议事室的召集人，不能处理。")
    problem = refusal(proposal.status, action)
    if problem is not None:
        raise ReviewError(problem)


def finish(
    session: Session, *, proposal: Proposal, to: ProposalStatus, actor_id: int, reason: str, now: datetime, tz: str
) -> Done:
    change = proposals.change_status(session, proposal=proposal, to=to, actor_id=actor_id, reason=reason, now=now)
    session.flush()
    told = notify.notify_status_change(session, proposal=proposal, change=change, now=now, tz=tz)
    path = notify.tell_path(session, proposal=proposal, change=change, now=now, tz=tz)
    return Done(change, told, path)


def accept(
    session: Session, *, proposal: Proposal, actor_id: int, now: datetime, tz: str, limits: clocks.Limits | None = None
) -> Done:
    """受理: the room takes the proposal up; with `limits`, 审定's clock starts (the chat always passes them)."""
    _check(session, proposal=proposal, action="accept", actor_id=actor_id)
    if limits is not None:
        clocks.on_accepted(proposal, now=now, limits=limits)
    return finish(
        session, proposal=proposal, to=ProposalStatus.accepted, actor_id=actor_id, reason="召集人已受理", now=now, tz=tz
    )


def decline(session: Session, *, proposal: Proposal, actor_id: int, reason: str, now: datetime, tz: str) -> Done:
    """不予采纳, always with the reason the proposer will read."""
    reason = reason.strip()
    if not reason:
        raise ReviewError("不予采纳必须写明理由，这个理由会告诉提议人和附议人。")
    _check(session, proposal=proposal, action="decline", actor_id=actor_id)
    return finish(
        session, proposal=proposal, to=ProposalStatus.declined, actor_id=actor_id, reason=reason, now=now, tz=tz
    )


def approve(
    session: Session,
    *,
    proposal: Proposal,
    actor_id: int,
    unit: str,
    approved_at: datetime,
    now: datetime,
    tz: str,
) -> Done:
    """审定: the proposal becomes a consultation topic, recording who approved it and when."""
    unit = unit.strip()
    if not unit:
        raise ReviewError("审定为协商议题需要写明审定单位。")
    _check(session, proposal=proposal, action="approve", actor_id=actor_id)
    proposal.approval_unit = unit
    proposal.approved_at = approved_at
    reason = f"审定单位：{unit}；审定日期：{notify.local_date(approved_at, tz)}"
    return finish(
        session, proposal=proposal, to=ProposalStatus.approved, actor_id=actor_id, reason=reason, now=now, tz=tz
    )


def merge(session: Session, *, proposal: Proposal, target: Proposal, actor_id: int, now: datetime, tz: str) -> Done:
    """合并: fold a proposal into a like one; its proposer and supporters come along as supporters."""
    _check(session, proposal=proposal, action="merge", actor_id=actor_id)
    if target.id == proposal.id:
        raise ReviewError("不能把一条提议合并到它自己。请换一条目标提议。")
    if target.room_id != proposal.room_id:
        raise ReviewError(f"{target.receipt} 不在「{proposal.room.name}」，只能合并到同一议事室的提议。")
    if target.status in CLOSED:
        name = STATUS_NAMES.get(target.status, target.status)
        raise ReviewError(f"{target.receipt} 已经是「{name}」，不能作为合并的目标。请换一条仍在办理的提议。")
    movers = {proposal.proposer_id}
    movers.update(
        session.scalars(select(ProposalSupporter.person_id).where(ProposalSupporter.proposal_id == proposal.id))
    )
    already = set(
        session.scalars(select(ProposalSupporter.person_id).where(ProposalSupporter.proposal_id == target.id))
    )
    for person_id in sorted(movers - already - {target.proposer_id}):
        session.add(ProposalSupporter(proposal_id=target.id, person_id=person_id, created_at=now))
    proposal.merged_into_id = target.id
    return finish(
        session,
        proposal=proposal,
        to=ProposalStatus.merged,
        actor_id=actor_id,
        reason=f"并入 {target.receipt}",
        now=now,
        tz=tz,
    )
