"""Telling people a proposal's status changed: who hears of it, and what they read.

One place for the texts, so every status change (审核, 列入协商, 反馈 ...) speaks the same way. Messages
go through the outbox in the caller's transaction, keyed by the change and the person, so a retried
change never tells anyone twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import local
from bot.services import clocks, escalation_path, outbox
from bot.services.privacy import mask_phones
from bot.services.proposals import STATUS_NAMES
from bot.text import shorten
from storage.models import Escalation, Proposal, ProposalStatus, ProposalSupporter, StatusChange

SUMMARY_CHARS = 20


@dataclass(frozen=True)
class Letter:
    """What a status text may say: the proposal, the change, and whose eyes read it."""

    proposal: Proposal
    change: StatusChange
    is_proposer: bool
    target: Proposal | None  # the proposal it was merged into
    tz: str
    hop: Escalation | None = None  # 报上级 / 退回: the hop it went up, or the one it came back down

    @property
    def item(self) -> str:
        whose = "您提交的" if self.is_proposer else "您附议的"
        text = self.proposal.description if self.is_proposer else mask_phones(self.proposal.description)
        return f"{whose}提议 {self.proposal.receipt}「{shorten(text, SUMMARY_CHARS)}」"


def local_date(moment: datetime, tz: str) -> str:
    day = local(moment, tz)
    return f"{day.year}年{day.month}月{day.day}日"


def _accepted(letter: Letter) -> str:
    due = letter.proposal.decision_due_at
    by = f"将在 {clocks.day_label(due, letter.tz)} 前决定是否列为协商议题，" if due is not None else ""
    return (
        f"{letter.item}已被「{letter.proposal.room.name}」受理。\n"
        f"召集人将研究安排协商，{by}有进展会再通知您。发送编号可随时查看。"
    )


def _merged(letter: Letter) -> str:
    target = letter.target
    if target is None:  # merged without a target cannot happen through the review service
        return f"{letter.item}已与同类提议合并。"
    return (
        f"{letter.item}与同类提议合并，已并入 {target.receipt}「{shorten(mask_phones(target.description), SUMMARY_CHARS)}」。\n"
        f"今后的进展会按 {target.receipt} 通知您，发送「{target.receipt}」可查看详情。"
    )


def _declined(letter: Letter) -> str:
    return (
        f"很抱歉，{letter.item}经「{letter.proposal.room.name}」审核，不予采纳。\n"
        f"理由：{letter.change.reason or '未说明'}\n"
        "感谢您的参与。发送「我的」可查看记录，也欢迎继续提出其他问题。"
    )


def _approved(letter: Letter) -> str:
    proposal = letter.proposal
    when = local_date(proposal.approved_at, letter.tz) if proposal.approved_at else "未记录"
    return (
        f"{letter.item}已审定为协商议题。\n"
        f"审定单位：{proposal.approval_unit or '未记录'}\n"
        f"审定日期：{when}\n"
        "安排好协商时间后会再通知您。"
    )


def _hop_rooms(letter: Letter) -> tuple[str, str]:
    """(the lower room, the upper room) of the letter's hop."""
    hop = letter.hop
    if hop is None:
        return "", letter.proposal.room.name
    return hop.from_room.name, hop.to_room.name


def _escalated(letter: Letter) -> str:
    lower, upper = _hop_rooms(letter)
    hop = letter.hop
    kind = f"，作为{escalation_path.kind_name(hop.kind)}" if hop is not None else ""
    return (
        f"{letter.item}已由「{lower}」报送上级「{upper}」{kind}。\n"
        f"原因：{hop.reason if hop is not None else letter.change.reason or '未说明'}\n"
        f"今后由「{upper}」办理，有进展会再通知您。发送编号可随时查看。"
    )


def _returned(letter: Letter) -> str:
    lower, upper = _hop_rooms(letter)
    hop = letter.hop
    reason = hop.return_reason if hop is not None and hop.return_reason else letter.change.reason or "未说明"
    return (
        f"{letter.item}已被「{upper}」退回「{lower}」。\n"
        f"原因：{reason}\n"
        f"将由「{lower}」继续办理，有进展会再通知您。发送编号可随时查看。"
    )


def _generic(letter: Letter) -> str:
    name = STATUS_NAMES.get(letter.change.to_status, letter.change.to_status)
    reason = f"\n说明：{letter.change.reason}" if letter.change.reason else ""
    return f"{letter.item}状态更新为「{name}」。{reason}"


# Statuses people are told about, each with its text. Add scheduled / answered here when they come.
TEXTS: dict[str, Callable[[Letter], str]] = {
    ProposalStatus.accepted: _accepted,
    ProposalStatus.merged: _merged,
    ProposalStatus.declined: _declined,
    ProposalStatus.approved: _approved,
    ProposalStatus.escalated: _escalated,
    ProposalStatus.returned: _returned,
}


def recipients(session: Session, *, proposal: Proposal) -> list[tuple[int, bool]]:
    """(person id, is the proposer) for the proposer and every supporter, proposer first."""
    supporters = session.scalars(
        select(ProposalSupporter.person_id)
        .where(ProposalSupporter.proposal_id == proposal.id)
        .order_by(ProposalSupporter.created_at, ProposalSupporter.person_id)
    ).all()
    people = [(proposal.proposer_id, True)]
    people.extend((pid, False) for pid in supporters if pid != proposal.proposer_id)
    return people


def status_text(letter: Letter) -> str:
    return TEXTS.get(letter.change.to_status, _generic)(letter)


def notify_status_change(
    session: Session, *, proposal: Proposal, change: StatusChange, now: datetime, tz: str = "Asia/Shanghai"
) -> int:
    """Queue the news of `change` to the proposer and supporters; returns how many were queued.

    The person who made the change is not told about it: they just did it.
    """
    if change.id is None:
        session.flush()  # the key names the change row
    target = session.get(Proposal, proposal.merged_into_id) if proposal.merged_into_id else None
    hop = _hop_of(session, proposal=proposal, change=change)
    queued = 0
    for person_id, is_proposer in recipients(session, proposal=proposal):
        if person_id == change.actor_id:
            continue
        text = status_text(Letter(proposal, change, is_proposer, target, tz, hop))
        key = f"status:{proposal.id}:{change.id}:{person_id}"
        if outbox.enqueue_text(session, person_id=person_id, text=text, key=key, now=now) is not None:
            queued += 1
    return queued


def _hop_of(session: Session, *, proposal: Proposal, change: StatusChange) -> Escalation | None:
    if change.to_status == ProposalStatus.escalated:
        return escalation_path.latest(session, proposal_id=proposal.id)
    if change.to_status == ProposalStatus.returned:
        return escalation_path.latest_returned(session, proposal_id=proposal.id)
    return None


# --- the rooms along an escalated item's path ------------------------------------------------------


def _path_text(letter: Letter, *, here: bool) -> str:
    """What a convenor of a room on the path reads; `here`: a convenor of the room handling it now."""
    proposal, change = letter.proposal, letter.change
    room = proposal.room.name
    summary = shorten(proposal.description, SUMMARY_CHARS)
    lead = f"经本议事室报上级的提议 {proposal.receipt}「{summary}」"
    hop = letter.hop
    if change.to_status == ProposalStatus.escalated and hop is not None:
        kind = escalation_path.kind_name(hop.kind)
        if here:
            return (
                f"【下级报送】「{hop.from_room.name}」报送提议 {proposal.receipt}「{summary}」，作为{kind}。\n"
                f"原因：{hop.reason}\n"
                "发「待审」处理：可受理、不予采纳、审定为议题、继续报上级，或退回下级。"
            )
        return f"{lead}已由「{hop.from_room.name}」报送「{hop.to_room.name}」，作为{kind}。\n原因：{hop.reason}"
    if change.to_status == ProposalStatus.returned and hop is not None:
        then = "\n已回到本议事室的待审列表，请发「待审」继续处理。" if here else ""
        return (
            f"{lead}被「{hop.to_room.name}」退回「{hop.from_room.name}」。\n原因：{hop.return_reason or '未说明'}{then}"
        )
    answers: dict[str, str] = {
        ProposalStatus.accepted: "已受理。",
        ProposalStatus.declined: f"不予采纳。\n理由：{change.reason or '未说明'}",
        ProposalStatus.approved: f"已审定为协商议题（{change.reason or ''}）。",
        ProposalStatus.merged: f"已并入同类提议 {letter.target.receipt if letter.target else ''}。",
        ProposalStatus.scheduled: f"已列入协商（{change.reason or ''}）。",
        ProposalStatus.answered: f"已反馈结果：{change.reason or ''}",
    }
    answer = answers.get(change.to_status, f"状态更新为「{STATUS_NAMES.get(change.to_status, change.to_status)}」。")
    return f"{lead}，「{room}」答复：{answer}\n提议人和附议人已同时收到通知。"


def tell_path(
    session: Session, *, proposal: Proposal, change: StatusChange, now: datetime, tz: str = "Asia/Shanghai"
) -> int:
    """Queue the news of `change` to the convenors of the rooms below along the item's path (and, when it
    has just arrived by 报上级 or 退回, to the convenors of the room handling it now); how many were queued.
    An item that never left its room has no path: nobody is told."""
    lower = escalation_path.lower_rooms(session, proposal_id=proposal.id)
    hop = _hop_of(session, proposal=proposal, change=change)
    arrived = change.to_status in {ProposalStatus.escalated, ProposalStatus.returned}
    if not lower and not arrived:
        return 0
    if change.id is None:
        session.flush()
    target = session.get(Proposal, proposal.merged_into_id) if proposal.merged_into_id else None
    letter = Letter(proposal, change, True, target, tz, hop)
    rooms = [(room_id, False) for room_id in lower if room_id != proposal.room_id]
    if arrived:
        rooms.append((proposal.room_id, True))
    queued = 0
    told: set[int] = {change.actor_id} if change.actor_id is not None else set()
    for room_id, here in rooms:
        text = _path_text(letter, here=here)
        for person_id in escalation_path.convenor_ids(session, room_id=room_id):
            if person_id in told:
                continue
            told.add(person_id)
            key = f"path:{proposal.id}:{change.id}:{person_id}"
            payload = {"text": text, "template": "reminder"}
            if outbox.enqueue(session, person_id=person_id, kind="text", payload=payload, key=key, now=now):
                queued += 1
    return queued
