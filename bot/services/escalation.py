"""报上级 and 退回: a proposal goes up to the parent room's queue, or an upper room sends it back down.

The proposal stays one row with one receipt (residents' 我的 and 附议 keep working); its `room_id`
becomes the room handling it now, and each hop is an `escalations` row. Every move is a status change
(已报上级 / 上级退回) with its history row, the proposer's and supporters' letters, and the notices to
the convenors along the path, in the caller's transaction. The checks come first: nothing is written
when one fails.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.services import clocks, escalation_path, review
from bot.services.escalation_path import KINDS
from bot.services.proposals import CLOSED, STATUS_NAMES
from bot.services.review import Done, ReviewError
from storage.models import Escalation, Proposal, ProposalKeyword, ProposalStatus, Room

MAX_REASON = 500


def _check(session: Session, *, proposal: Proposal, actor_id: int, doing: str) -> None:
    if not review.is_convenor(session, person_id=actor_id, room_id=proposal.room_id):
        raise ReviewError(
            f"{proposal.receipt} 现在由「{proposal.room.name}」办理，您不是这个议事室的召集人，不能{doing}。"
        )
    if proposal.status in CLOSED:
        raise ReviewError(f"这条提议已经是「{STATUS_NAMES.get(proposal.status, proposal.status)}」，不能再{doing}。")


def _move(session: Session, *, proposal: Proposal, room: Room) -> None:
    """The item is handled in `room` from now on; its similar-proposal index follows it."""
    proposal.room = room
    proposal.room_id = room.id
    session.execute(update(ProposalKeyword).where(ProposalKeyword.proposal_id == proposal.id).values(room_id=room.id))


def escalate(
    session: Session,
    *,
    proposal: Proposal,
    actor_id: int,
    kind: str,
    reason: str,
    now: datetime,
    tz: str,
    limits: clocks.Limits | None = None,
) -> Done:
    """报上级: the item goes to the parent room's 待审 as `kind`, with the lower convenor's reason."""
    reason = reason.strip()
    if kind not in KINDS:
        raise ReviewError("请选择报送类别：提案线索、社情民意信息或建议。")
    if not reason:
        raise ReviewError("报上级必须写明原因，这个原因会告诉上级议事室、提议人和附议人。")
    _check(session, proposal=proposal, actor_id=actor_id, doing="报上级")
    lower = proposal.room
    upper = lower.parent
    if upper is None:
        raise ReviewError(f"「{lower.name}」没有上级议事室，不能报上级。如需设置，请联系政协办管理员。")
    session.add(
        Escalation(
            proposal_id=proposal.id,
            from_room_id=lower.id,
            to_room_id=upper.id,
            kind=kind,
            reason=reason[:MAX_REASON],
            by_id=actor_id,
            created_at=now,
        )
    )
    _move(session, proposal=proposal, room=upper)
    if limits is not None:
        clocks.on_moved(proposal, now=now, limits=limits)
    history = f"「{lower.name}」报送「{upper.name}」，作为{KINDS[kind]}：{reason[:MAX_REASON]}"
    return review.finish(
        session, proposal=proposal, to=ProposalStatus.escalated, actor_id=actor_id, reason=history, now=now, tz=tz
    )


def send_back(
    session: Session,
    *,
    proposal: Proposal,
    actor_id: int,
    reason: str,
    now: datetime,
    tz: str,
    limits: clocks.Limits | None = None,
) -> Done:
    """退回: the upper room sends an item that came from below back to that room, with a reason."""
    reason = reason.strip()
    if not reason:
        raise ReviewError("退回必须写明原因，这个原因会告诉下级议事室、提议人和附议人。")
    _check(session, proposal=proposal, actor_id=actor_id, doing="退回")
    hop = escalation_path.latest_in(session, proposal=proposal)
    if hop is None:
        raise ReviewError(f"{proposal.receipt} 不是下级议事室报送来的，不能退回。")
    upper, lower = hop.to_room, hop.from_room
    hop.returned_at = now
    hop.return_reason = reason[:MAX_REASON]
    hop.returned_by_id = actor_id
    _move(session, proposal=proposal, room=lower)
    if limits is not None:
        clocks.on_moved(proposal, now=now, limits=limits)
    session.flush()  # the letters read the hop as returned
    history = f"「{upper.name}」退回「{lower.name}」：{reason[:MAX_REASON]}"
    return review.finish(
        session, proposal=proposal, to=ProposalStatus.returned, actor_id=actor_id, reason=history, now=now, tz=tz
    )
