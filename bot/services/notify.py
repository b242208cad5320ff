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
from bot.services import clocks, outbox
from bot.services.privacy import mask_phones
from bot.services.proposals import STATUS_NAMES
from bot.text import shorten
from storage.models import Proposal, ProposalStatus, ProposalSupporter, StatusChange

SUMMARY_CHARS = 20


@dataclass(frozen=True)
class Letter:
    """What a status text may say: the proposal, the change, and whose eyes read it."""

    proposal: Proposal
    change: StatusChange
    is_proposer: bool
    target: Proposal | None  # the proposal it was merged into
    tz: str

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
    queued = 0
    for person_id, is_proposer in recipients(session, proposal=proposal):
        if person_id == change.actor_id:
            continue
        text = status_text(Letter(proposal, change, is_proposer, target, tz))
        key = f"status:{proposal.id}:{change.id}:{person_id}"
        if outbox.enqueue_text(session, person_id=person_id, text=text, key=key, now=now) is not None:
            queued += 1
    return queued
