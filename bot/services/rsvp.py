"""Invitees' answers to a session (参加 / 请假) and the tally a convenor sees (出席情况)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import ConsultSession, Person, SessionInvitee

RSVP_NAMES = {"attend": "参加", "leave": "请假", "pending": "未回复"}


def display_name(person: Person) -> str:
    return person.display_name or f"用户{person.external_id[-4:]}"


def answer(
    session: Session, *, invitee: SessionInvitee, attend: bool, reason: str | None, now: datetime
) -> SessionInvitee:
    """参加 / 请假 (the latest answer counts)."""
    invitee.rsvp = "attend" if attend else "leave"
    invitee.rsvp_reason = None if attend else (reason or None)
    invitee.rsvp_at = now
    return invitee


def clear(session: Session, *, session_id: int) -> None:
    """Every answer to the session back to 未回复: after a move, answers given for the old time no longer hold."""
    session.execute(
        update(SessionInvitee)
        .where(SessionInvitee.session_id == session_id)
        .values(rsvp="pending", rsvp_reason=None, rsvp_at=None)
        .execution_options(synchronize_session="fetch")
    )


@dataclass(frozen=True)
class Tally:
    attend: list[str]
    leave: list[tuple[str, str | None]]
    pending: list[str]
    present: list[str] = field(default_factory=list)  # marked present after the session (到会)
    absent: list[str] = field(default_factory=list)  # invited, not marked present, once 到会 was recorded

    @property
    def total(self) -> int:
        return len(self.attend) + len(self.leave) + len(self.pending)


def tally(session: Session, *, session_id: int) -> Tally:
    rows = session.execute(
        select(SessionInvitee, Person)
        .join(Person, Person.id == SessionInvitee.person_id)
        .where(SessionInvitee.session_id == session_id)
        .order_by(SessionInvitee.person_id)
    ).all()
    attend = [display_name(p) for i, p in rows if i.rsvp == "attend"]
    leave = [(display_name(p), i.rsvp_reason) for i, p in rows if i.rsvp == "leave"]
    pending = [display_name(p) for i, p in rows if i.rsvp not in ("attend", "leave")]
    consult = session.get(ConsultSession, session_id)
    if consult is None or consult.attendance_marked_at is None:
        return Tally(attend, leave, pending)
    # 到会 was recorded: who was marked came, the rest did not (records.outcome_of reads it the same way).
    present = [display_name(p) for i, p in rows if i.present]
    absent = [display_name(p) for i, p in rows if not i.present]
    return Tally(attend, leave, pending, present, absent)


def tally_text(result: Tally) -> str:
    lines = [
        f"出席情况：共邀请 {result.total} 人，参加 {len(result.attend)} 人，请假 {len(result.leave)} 人，"
        f"未回复 {len(result.pending)} 人。"
    ]
    if result.attend:
        lines.append("参加：" + "、".join(result.attend))
    if result.leave:
        lines.append("请假：" + "、".join(f"{n}（{r}）" if r else n for n, r in result.leave))
    if result.pending:
        lines.append("未回复：" + "、".join(result.pending))
    if result.present or result.absent:
        # What the convenor recorded with 到会 once the session began: who really came (履职档案 counts this).
        lines.append(
            f"到会登记：实到 {len(result.present)} 人" + ("：" + "、".join(result.present) if result.present else "")
        )
        if result.absent:
            lines.append("未到：" + "、".join(result.absent))
    return "\n".join(lines)
