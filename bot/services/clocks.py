"""The clocks of a room's work, in working days (docs/clocks.md): when each answer is due, and what is late.

| clock | starts | stops | limit |
|---|---|---|---|
| first answer to a proposal | filing | 受理, 合并, 不予采纳 or 审定 | PROPOSAL_ANSWER_WORKDAYS |
| 审定 | 受理, or the supporter threshold | 审定, 不予采纳 or 合并 | APPROVAL_WORKDAYS |
| a 微建言's answer | filing | 回应 (or a published result) | SUGGESTION_ANSWER_WORKDAYS |
| a responsibility item | recording the list | 100% or a published result | its own deadline |

Due moments are stored when a clock starts (`answer_due_at`, `decision_due_at`), so 督办 and 三率 are
queries. Past a limit the item is in its room's 督办; CLOCK_ESCALATE_WORKDAYS working days later
(`escalate_at`) in the parent room's as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.services import workdays
from bot.services.suggestions import UNANSWERED
from bot.settings import Settings
from storage.models import ListItem, Proposal, ProposalStatus, Suggestion

# The statuses a proposal's clocks run in: waiting for a room's first answer (filed, or just sent up by 报上级
# or back by 退回: the receiving room owes one), or for 审定.
AWAITING_ANSWER = (ProposalStatus.submitted, ProposalStatus.escalated, ProposalStatus.returned)
WAITING = (*AWAITING_ANSWER, ProposalStatus.accepted)


class Due(NamedTuple):
    """A clock's limit, and the moment past it when the parent room hears of the item."""

    answer: datetime  # answer_due_at or decision_due_at
    escalate: datetime  # escalate_at


@dataclass(frozen=True)
class Limits:
    proposal_answer: int
    approval: int
    suggestion_answer: int
    escalate: int
    tz: str

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            proposal_answer=settings.proposal_answer_workdays,
            approval=settings.approval_workdays,
            suggestion_answer=settings.suggestion_answer_workdays,
            escalate=settings.clock_escalate_workdays,
            tz=settings.timezone,
        )

    def due(self, start: datetime, days: int) -> datetime:
        return workdays.due(start, days, self.tz)

    def clock(self, start: datetime, days: int) -> Due:
        """A clock of `days` working days started at `start`, with its escalation CLOCK_ESCALATE_WORKDAYS later."""
        return Due(self.due(start, days), self.due(start, days + self.escalate))


def day_label(moment: datetime, tz: str) -> str:
    """The last day of a limit as people read it: 2026年10月13日."""
    day = workdays.last_day(moment, tz)
    return f"{day.year}年{day.month}月{day.day}日"


def last_day(moment: datetime, tz: str) -> date:
    return workdays.last_day(moment, tz)


# --- starting the clocks ---------------------------------------------------------------------------


def first_answer_due(now: datetime, limits: Limits) -> Due:
    """A proposal filed `now`: its first answer is due in PROPOSAL_ANSWER_WORKDAYS."""
    return limits.clock(now, limits.proposal_answer)


def suggestion_answer_due(now: datetime, limits: Limits) -> Due:
    """A 微建言 filed `now`: its answer is due in SUGGESTION_ANSWER_WORKDAYS."""
    return limits.clock(now, limits.suggestion_answer)


def on_accepted(proposal: Proposal, *, now: datetime, limits: Limits) -> None:
    """受理 stopped the first answer's clock: 审定 is due APPROVAL_WORKDAYS after 受理 (or after the
    supporter threshold, when that came first)."""
    start = proposal.threshold_reached_at or now
    proposal.decision_due_at, proposal.escalate_at = limits.clock(start, limits.approval)


def on_moved(proposal: Proposal, *, now: datetime, limits: Limits) -> None:
    """报上级 or 退回 put the item in another room's 待审: that room owes its first answer in
    PROPOSAL_ANSWER_WORKDAYS, and 审定's clock starts again at its 受理. (The response rate keeps the first
    room's answer: the hop was one.)"""
    proposal.answer_due_at, proposal.escalate_at = first_answer_due(now, limits)
    proposal.decision_due_at = None


def on_threshold(proposal: Proposal, *, now: datetime, limits: Limits) -> None:
    """The supporter threshold: 审定 is due APPROVAL_WORKDAYS from now, unless 受理 already set an earlier date."""
    proposal.threshold_reached_at = now
    due, second = limits.clock(now, limits.approval)
    proposal.decision_due_at = min(proposal.decision_due_at or due, due)
    proposal.escalate_at = min(proposal.escalate_at or second, second)


def running(proposal: Proposal) -> list[tuple[str, datetime]]:
    """The clocks that run on a proposal, as people read them: (答复期限 | 审定期限, due)."""
    if proposal.status not in WAITING:
        return []
    found = []
    if proposal.status in AWAITING_ANSWER and proposal.answer_due_at is not None:
        found.append(("答复期限", proposal.answer_due_at))
    if proposal.decision_due_at is not None:
        found.append(("审定期限", proposal.decision_due_at))
    return found


def due_of(proposal: Proposal) -> datetime | None:
    """When the room owes this proposal its next answer, if a clock runs."""
    return min((due for _name, due in running(proposal)), default=None)


# --- what is late ----------------------------------------------------------------------------------


def late_proposals(session: Session, *, now: datetime, room_ids: list[int], escalated: bool = False) -> list[Proposal]:
    """Proposals of the rooms whose next answer is overdue (`escalated`: past the second limit too), oldest due first."""
    if not room_ids:
        return []
    first_answer = and_(Proposal.status.in_(list(AWAITING_ANSWER)), Proposal.answer_due_at < now)
    decision = and_(Proposal.status.in_(list(WAITING)), Proposal.decision_due_at < now)
    query = select(Proposal).where(Proposal.room_id.in_(room_ids), or_(first_answer, decision))
    if escalated:
        query = query.where(Proposal.escalate_at < now)
    rows = list(session.scalars(query.order_by(Proposal.id)))
    return sorted(rows, key=lambda p: (due_of(p) or now, p.id))


def late_suggestions(
    session: Session, *, now: datetime, room_ids: list[int], escalated: bool = False, lock: bool = False
) -> list[Suggestion]:
    """微建言 of the rooms past their answer's limit and still unanswered, oldest first."""
    if not room_ids:
        return []
    query = select(Suggestion).where(
        Suggestion.room_id.in_(room_ids), Suggestion.status.in_(UNANSWERED), Suggestion.answer_due_at < now
    )
    if escalated:
        query = query.where(Suggestion.escalate_at < now)
    if lock:
        query = query.with_for_update(of=Suggestion, skip_locked=True)
    return list(session.scalars(query.order_by(Suggestion.answer_due_at, Suggestion.id)))


def item_escalated(item: ListItem, *, now: datetime, limits: Limits) -> bool:
    """A responsibility item CLOCK_ESCALATE_WORKDAYS working days past its deadline."""
    return item.deadline is not None and limits.due(item.deadline, limits.escalate) <= now


def late_workdays(due: datetime, *, now: datetime, tz: str) -> int:
    """Working days since the limit's last day, today included (at least 1 once overdue)."""
    return max(workdays.between(due - timedelta(microseconds=1), now, tz), 1)
