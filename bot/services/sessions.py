"""Consultation sessions (协商活动): create, move, cancel, invitees and their answers (参加 / 请假).

Every change writes its notices to the outbox in the caller's transaction, with deterministic keys.
After the transaction commits, listeners (the reminder scheduler, when this process runs one) are
told which session changed, so its reminder jobs follow the row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bot.clock import fmt_local, local
from bot.services import notify, outbox, proposals
from bot.text import shorten
from storage.models import (
    ConsultSession,
    OutboxMessage,
    Person,
    Proposal,
    ProposalStatus,
    ProposalSupporter,
    ReminderDelivery,
    Role,
    Room,
    RoomRole,
    SessionFormat,
    SessionInvitee,
    SessionTopic,
)

log = logging.getLogger(__name__)

FORMAT_NAMES = {SessionFormat.meeting: "会议", SessionFormat.onsite: "现场", SessionFormat.online: "网络"}
FORMATS = [SessionFormat.meeting, SessionFormat.onsite, SessionFormat.online]
SCOPES = ("all", "members", "representatives")
SCOPE_NAMES = {"all": "本室全部委员和代表", "members": "只选委员", "representatives": "只选代表"}
RSVP_NAMES = {"attend": "参加", "leave": "请假", "pending": "未回复"}
DEFAULT_LENGTH = timedelta(hours=2)
MIN_INVITED = 10  # SPEC §1: a session of at least 10 people, at least one third representatives
WEEKDAYS = "一二三四五六日"
ANSWER_HOW = "请回复「参加」或「请假 理由」（如：请假 出差）。"


# --- who is invited ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Invitee:
    person_id: int
    role: str  # member | representative | guest


def plan_invitees(session: Session, *, room_id: int, scope: str, extra_ids: Iterable[int] = ()) -> list[Invitee]:
    """The room's members and/or representatives (by scope), plus named people as guests."""
    wanted = {"all": (Role.member, Role.representative), "members": (Role.member,)}.get(scope, (Role.representative,))
    rows = session.execute(
        select(RoomRole.person_id, RoomRole.role).where(RoomRole.room_id == room_id, RoomRole.role.in_(wanted))
    ).all()
    roles: dict[int, str] = {}
    for person_id, role in sorted(rows):
        # Someone both member and representative is counted once, as a member.
        if roles.get(person_id) != Role.member:
            roles[person_id] = role
    for person_id in extra_ids:
        roles.setdefault(person_id, "guest")
    return [Invitee(pid, role) for pid, role in sorted(roles.items())]


def warnings(*, total: int, representatives: int) -> list[str]:
    """What the convenor is told before confirming (SPEC §1: ≥ 10 people, ≥ 1/3 representatives)."""
    found: list[str] = []
    if total < MIN_INVITED:
        found.append(
            f"受邀只有 {total} 人，少于 {MIN_INVITED} 人（协商活动一般不少于 {MIN_INVITED} 人，20 人左右为宜）。"
        )
    if total and representatives * 3 < total:
        found.append(f"群众代表 {representatives} 人，不到受邀人数的三分之一（应不少于 {-(-total // 3)} 人）。")
    return found


def people_named(session: Session, *, names: Iterable[str]) -> dict[str, list[int]]:
    """Each name typed -> the people whose display name it is (empty when nobody has it)."""
    found: dict[str, list[int]] = {}
    for name in names:
        ids = session.scalars(select(Person.id).where(Person.display_name == name).order_by(Person.id)).all()
        found[name] = list(ids)
    return found


def display_name(person: Person) -> str:
    return person.display_name or f"用户{person.external_id[-4:]}"


# --- reading -----------------------------------------------------------------------------------


def convened_rooms(session: Session, *, person_id: int) -> list[Room]:
    return list(
        session.scalars(
            select(Room)
            .join(RoomRole, RoomRole.room_id == Room.id)
            .where(RoomRole.person_id == person_id, RoomRole.role == Role.convenor)
            .order_by(Room.id)
        )
    )


def approved_topics(session: Session, *, room_id: int) -> list[Proposal]:
    """The room's topics approved (审定) and not yet on a session, oldest approval first."""
    return list(
        session.scalars(
            select(Proposal)
            .where(Proposal.room_id == room_id, Proposal.status == ProposalStatus.approved)
            .order_by(Proposal.approved_at, Proposal.id)
        )
    )


def topics_of(session: Session, *, session_id: int) -> list[Proposal]:
    ids = select(SessionTopic.proposal_id).where(SessionTopic.session_id == session_id)
    return list(session.scalars(select(Proposal).where(Proposal.id.in_(ids)).order_by(Proposal.id)))


def invitees_of(session: Session, *, session_id: int) -> list[SessionInvitee]:
    return list(
        session.scalars(
            select(SessionInvitee).where(SessionInvitee.session_id == session_id).order_by(SessionInvitee.person_id)
        )
    )


def upcoming_for(session: Session, *, person_id: int, now: datetime) -> list[ConsultSession]:
    """Scheduled sessions the person is invited to that have not begun, soonest first."""
    return list(
        session.scalars(
            select(ConsultSession)
            .join(SessionInvitee, SessionInvitee.session_id == ConsultSession.id)
            .where(
                SessionInvitee.person_id == person_id,
                ConsultSession.status == "scheduled",
                ConsultSession.starts_at > now,
            )
            .order_by(ConsultSession.starts_at, ConsultSession.id)
        )
    )


def upcoming_in_rooms(session: Session, *, room_ids: list[int], now: datetime) -> list[ConsultSession]:
    return list(
        session.scalars(
            select(ConsultSession)
            .where(
                ConsultSession.room_id.in_(room_ids),
                ConsultSession.status == "scheduled",
                ConsultSession.ends_at > now,
            )
            .order_by(ConsultSession.starts_at, ConsultSession.id)
        )
    )


# --- the text every notice and reminder shares -------------------------------------------------


def ics_url(base_url: str, session_id: int) -> str:
    return f"{base_url.rstrip('/')}/sessions/{session_id}.ics"


def when_text(moment: datetime, tz: str) -> str:
    """`2026年12月3日 15:00（星期四）`."""
    return f"{fmt_local(moment, tz)}（星期{WEEKDAYS[local(moment, tz).weekday()]}）"


def ahead_text(seconds: float) -> str:
    """`3 天` / `2 小时` / `30 分钟`: how long before the start a reminder goes out."""
    whole = int(seconds)
    if whole % 86400 == 0:
        return f"{whole // 86400} 天"
    if whole % 3600 == 0:
        return f"{whole // 3600} 小时"
    return f"{max(1, whole // 60)} 分钟"


def details(consult: ConsultSession, *, tz: str, base_url: str) -> str:
    """Topic, time, place, format, materials and the calendar link."""
    lines = [
        f"议题：{consult.title}",
        f"时间：{when_text(consult.starts_at, tz)}",
        f"地点：{consult.place or '待定'}",
        f"形式：{FORMAT_NAMES.get(SessionFormat(consult.format), consult.format)}",
    ]
    if consult.materials_url:
        lines.append(f"材料：{consult.materials_url}")
    lines.append(f"加入日历：{ics_url(base_url, consult.id)}")
    lines.append(f"会议编号：{consult.id}")
    return "\n".join(lines)


def enqueue_notice(session: Session, *, person_id: int, text: str, key: str, now: datetime) -> OutboxMessage | None:
    """A session notice or reminder: outside the 48-hour window it goes as the reminder template."""
    return outbox.enqueue(
        session, person_id=person_id, kind="text", payload={"text": text, "template": "reminder"}, key=key, now=now
    )


# --- changes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewSession:
    room_id: int
    convenor_id: int
    starts_at: datetime
    place: str
    format: str
    scope: str
    title: str = ""  # a free title when no approved topic is chosen
    topic_ids: list[int] = field(default_factory=list)
    extra_ids: list[int] = field(default_factory=list)
    materials_url: str | None = None


@dataclass(frozen=True)
class Notice:
    """Where deployment settings enter: the time zone, the public URL, the reminder offsets."""

    tz: str
    base_url: str
    offsets: list[timedelta]


def create(session: Session, *, new: NewSession, now: datetime, notice: Notice) -> ConsultSession:
    """Store the session with its topics and invitees; notify invitees and the topics' proposers."""
    topics = [
        p
        for p in approved_topics(session, room_id=new.room_id)
        if p.id in set(new.topic_ids)  # only the room's approved topics can be put on a session
    ]
    title = "；".join(shorten(p.description, 40) for p in topics) if topics else new.title.strip()
    consult = ConsultSession(
        room_id=new.room_id,
        convenor_id=new.convenor_id,
        title=shorten(title or "协商活动", 200),
        starts_at=new.starts_at,
        ends_at=new.starts_at + DEFAULT_LENGTH,
        place=new.place,
        format=new.format,
        materials_url=new.materials_url or None,
        status="scheduled",
        nudges_sent=0,
        created_at=now,
        updated_at=now,
    )
    session.add(consult)
    session.flush()
    session.add_all(SessionTopic(session_id=consult.id, proposal_id=p.id) for p in topics)
    invitees = plan_invitees(session, room_id=new.room_id, scope=new.scope, extra_ids=new.extra_ids)
    session.add_all(SessionInvitee(session_id=consult.id, person_id=i.person_id, role=i.role) for i in invitees)
    session.flush()
    body = details(consult, tz=notice.tz, base_url=notice.base_url)
    for invitee in invitees:
        enqueue_notice(
            session,
            person_id=invitee.person_id,
            text=f"【协商通知】您受邀参加「{consult.room.name}」的协商活动。\n{body}\n{ANSWER_HOW}",
            key=f"session:{consult.id}:created:{invitee.person_id}",
            now=now,
        )
    when = when_text(consult.starts_at, notice.tz)
    for proposal in topics:
        change = proposals.change_status(
            session,
            proposal=proposal,
            to=ProposalStatus.scheduled,
            actor_id=new.convenor_id,
            reason=f"列入 {when} 的协商活动，地点：{consult.place}",
            now=now,
        )
        notify.notify_status_change(session, proposal=proposal, change=change, now=now, tz=notice.tz)
    cover_passed_reminders(session, consult=consult, offsets=notice.offsets, now=now)
    _changed(session, consult.id)
    return consult


def move(
    session: Session, *, consult: ConsultSession, starts_at: datetime, actor_id: int, now: datetime, notice: Notice
) -> None:
    """New time: every invitee and the topics' proposers are told; reminders follow (old time never)."""
    old = when_text(consult.starts_at, notice.tz)
    length = consult.ends_at - consult.starts_at
    consult.starts_at = starts_at
    consult.ends_at = starts_at + length
    consult.updated_at = now
    stamp = int(now.timestamp())
    body = details(consult, tz=notice.tz, base_url=notice.base_url)
    for invitee in invitees_of(session, session_id=consult.id):
        enqueue_notice(
            session,
            person_id=invitee.person_id,
            text=f"【改期通知】「{consult.title}」由 {old} 改到新的时间。\n{body}\n{ANSWER_HOW}",
            key=f"session:{consult.id}:moved:{stamp}:{invitee.person_id}",
            now=now,
        )
    when = when_text(starts_at, notice.tz)
    _tell_proposers(
        session,
        topics_of(session, session_id=consult.id),
        lambda p: f"您关注的提议 {p.receipt} 的协商活动改期到 {when}，地点：{consult.place}。",
        key=f"moved:{consult.id}:{stamp}",
        now=now,
    )
    cover_passed_reminders(session, consult=consult, offsets=notice.offsets, now=now)
    _changed(session, consult.id)


def cancel(session: Session, *, consult: ConsultSession, actor_id: int, now: datetime, tz: str) -> None:
    """Cancelled: invitees and proposers are told; the topics go back to 已审定 to be scheduled again."""
    consult.status = "cancelled"
    consult.updated_at = now
    when = when_text(consult.starts_at, tz)
    for invitee in invitees_of(session, session_id=consult.id):
        enqueue_notice(
            session,
            person_id=invitee.person_id,
            text=f"【取消通知】原定 {when} 的协商活动「{consult.title}」已取消，请不必前往。另有安排会再通知您。",
            key=f"session:{consult.id}:cancelled:{invitee.person_id}",
            now=now,
        )
    topics = [p for p in topics_of(session, session_id=consult.id) if p.status == ProposalStatus.scheduled]
    for proposal in topics:
        proposals.change_status(
            session,
            proposal=proposal,
            to=ProposalStatus.approved,
            actor_id=actor_id,
            reason=f"原定 {when} 的协商活动取消，待重新安排",
            now=now,
        )
    _tell_proposers(
        session,
        topics,
        lambda p: f"您关注的提议 {p.receipt} 原定 {when} 的协商活动已取消，议题会重新安排，届时再通知您。",
        key=f"cancelled:{consult.id}",
        now=now,
    )
    _changed(session, consult.id)


def cover_passed_reminders(
    session: Session, *, consult: ConsultSession, offsets: list[timedelta], now: datetime
) -> None:
    """Reminders whose moment is already past at (re)scheduling are covered by the notice just sent,
    which carries the same details: record them so no catch-up sends them again."""
    for offset in offsets:
        seconds = int(offset.total_seconds())
        if consult.starts_at - offset > now:
            continue
        exists = session.scalars(
            select(ReminderDelivery.id).where(
                ReminderDelivery.session_id == consult.id,
                ReminderDelivery.offset_seconds == seconds,
                ReminderDelivery.starts_at == consult.starts_at,
            )
        ).first()
        if exists is None:
            session.add(
                ReminderDelivery(
                    session_id=consult.id, offset_seconds=seconds, starts_at=consult.starts_at, sent_at=now
                )
            )


def _tell_proposers(
    session: Session, topics: list[Proposal], text: Callable[[Proposal], str], *, key: str, now: datetime
) -> None:
    for proposal in topics:
        supporters = session.scalars(
            select(ProposalSupporter.person_id).where(ProposalSupporter.proposal_id == proposal.id)
        ).all()
        for person_id in dict.fromkeys([proposal.proposer_id, *supporters]):
            outbox.enqueue_text(
                session,
                person_id=person_id,
                text=text(proposal),
                key=f"proposal:{proposal.id}:{key}:{person_id}",
                now=now,
            )


# --- answers -----------------------------------------------------------------------------------


def answer(
    session: Session, *, invitee: SessionInvitee, attend: bool, reason: str | None, now: datetime
) -> SessionInvitee:
    """参加 / 请假 (the latest answer counts)."""
    invitee.rsvp = "attend" if attend else "leave"
    invitee.rsvp_reason = None if attend else (reason or None)
    invitee.rsvp_at = now
    return invitee


@dataclass(frozen=True)
class Tally:
    attend: list[str]
    leave: list[tuple[str, str | None]]
    pending: list[str]

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
    return Tally(attend, leave, pending)


def tally_text(result: Tally) -> str:
    lines = [
        f"出席情况：共邀请 {result.total} 人，参加 {len(result.attend)} 人，请假 {len(result.leave)} 人，"
        f"未回复 {len(result.pending)} 人。"
    ]
    if result.leave:
        lines.append("请假：" + "、".join(f"{n}（{r}）" if r else n for n, r in result.leave))
    if result.pending:
        lines.append("未回复：" + "、".join(result.pending))
    return "\n".join(lines)


# --- after commit: tell whoever keeps the reminder jobs ----------------------------------------

ChangeListener = Callable[[int], None]
_listeners: list[ChangeListener] = []


def add_listener(listener: ChangeListener) -> None:
    """Called with a session id after each commit that created, moved or cancelled it."""
    _listeners.append(listener)


def remove_listener(listener: ChangeListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def _changed(session: Session, session_id: int) -> None:
    # After commit, not now: a rolled-back change must not move any job.
    def notify(_session: Session) -> None:
        for listener in list(_listeners):
            try:
                listener(session_id)
            except Exception:  # the row is committed; the scheduler's reconcile pass will catch up
                log.exception("session %s changed but its reminders could not be rescheduled", session_id)

    event.listen(session, "after_commit", notify, once=True)
