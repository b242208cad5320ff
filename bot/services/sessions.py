"""Consultation sessions (协商活动): create, move, cancel, and the reads around them.

Who is invited lives in session_invitees, what they are told in session_notices, their answers in rsvp.

Every change writes its notices to the outbox in the caller's transaction, with deterministic keys.
After the transaction commits, listeners (the reminder scheduler, when this process runs one) are
told which session changed, so its reminder jobs follow the row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bot.services import notify, proposals, rsvp, session_status
from bot.services.end_time import DEFAULT_LENGTH
from bot.services.session_invitees import invitees_of, plan_invitees
from bot.services.session_notices import (
    ANSWER_HOW,
    details,
    short_span,
    short_when,
    tell_invitees,
    tell_proposers,
    topic_name,
    when_text,
)
from bot.settings import Settings
from bot.text import shorten
from storage.models import (
    ConsultSession,
    Proposal,
    ProposalStatus,
    ReminderDelivery,
    Role,
    Room,
    RoomRole,
    SessionInvitee,
    SessionTopic,
)

log = logging.getLogger(__name__)


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


# --- changes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewSession:
    room_id: int
    convenor_id: int
    starts_at: datetime
    place: str
    format: str
    scope: str
    title: str = ""  # empty: the first topic's name
    ends_at: datetime | None = None  # None: DEFAULT_LENGTH after the start
    topic_ids: list[int] = field(default_factory=list)
    extra_ids: list[int] = field(default_factory=list)
    materials_url: str | None = None


@dataclass(frozen=True)
class Notice:
    """Where deployment settings enter: the time zone, the public URL, the reminder offsets, and the
    secret that signs the calendar links."""

    tz: str
    base_url: str
    offsets: list[timedelta]
    secret: str

    @classmethod
    def of(cls, settings: Settings) -> Notice:
        return cls(
            tz=settings.timezone,
            base_url=settings.public_base_url,
            offsets=list(settings.reminder_offsets),
            secret=settings.secret_key.get_secret_value(),
        )


def create(session: Session, *, new: NewSession, now: datetime, notice: Notice) -> ConsultSession:
    """Store the session with its topics and invitees; notify invitees and the topics' proposers."""
    topics = [
        p
        for p in approved_topics(session, room_id=new.room_id)
        if p.id in set(new.topic_ids)  # only the room's approved topics can be put on a session
    ]
    title = new.title.strip() or (topic_name(topics[0].description) if topics else "")
    consult = ConsultSession(
        room_id=new.room_id,
        convenor_id=new.convenor_id,
        title=shorten(title or "协商活动", 200),
        starts_at=new.starts_at,
        ends_at=new.ends_at or new.starts_at + DEFAULT_LENGTH,
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
    _invite(
        session, consult, [i.person_id for i in invitees], key=f"session:{consult.id}:created", now=now, notice=notice
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
        notify.tell_path(session, proposal=proposal, change=change, now=now, tz=notice.tz)
    cover_passed_reminders(session, consult=consult, offsets=notice.offsets, now=now)
    _changed(session, consult.id)
    return consult


def _invite(
    session: Session, consult: ConsultSession, person_ids: list[int], *, key: str, now: datetime, notice: Notice
) -> None:
    body = details(consult, tz=notice.tz, base_url=notice.base_url, secret=notice.secret)
    tell_invitees(
        session,
        person_ids,
        text=f"【协商通知】您受邀参加「{consult.room.name}」的协商活动。\n{body}\n{ANSWER_HOW}",
        key=key,
        now=now,
        brief=(f"协商通知：{consult.title}", short_span(consult, notice.tz)),
    )


def add_guests(
    session: Session, *, consult: ConsultSession, person_ids: list[int], now: datetime, notice: Notice
) -> list[int]:
    """Invite more people (直通车's experts) as guests: they get the invitation every invitee got, and the
    reminders after. Returns who was added (people already invited are left as they are)."""
    invited = {i.person_id for i in invitees_of(session, session_id=consult.id)}
    added = [pid for pid in dict.fromkeys(person_ids) if pid not in invited]
    session.add_all(SessionInvitee(session_id=consult.id, person_id=pid, role="guest") for pid in added)
    session.flush()
    _invite(session, consult, added, key=f"session:{consult.id}:added", now=now, notice=notice)
    consult.updated_at = now
    return added


def move(
    session: Session, *, consult: ConsultSession, starts_at: datetime, actor_id: int, now: datetime, notice: Notice
) -> None:
    """New time: the answers given so far are cleared and every invitee is asked again; the topics'
    proposers are told; reminders follow (old time never)."""
    old = when_text(consult.starts_at, notice.tz)
    length = consult.ends_at - consult.starts_at
    consult.starts_at = starts_at
    consult.ends_at = starts_at + length
    consult.updated_at = now
    rsvp.clear(session, session_id=consult.id)
    stamp = int(now.timestamp())
    body = details(consult, tz=notice.tz, base_url=notice.base_url, secret=notice.secret)
    tell_invitees(
        session,
        [i.person_id for i in invitees_of(session, session_id=consult.id)],
        text=(
            f"【改期通知】「{consult.title}」由 {old} 改到 {when_text(starts_at, notice.tz)}，"
            "此前的参加、请假答复已清空，请重新答复。\n"
            f"{body}\n{ANSWER_HOW}"
        ),
        key=f"session:{consult.id}:moved:{stamp}",
        now=now,
        brief=(f"改期：{consult.title}", f"改到{short_when(starts_at, notice.tz)}，请重新答复"),
    )
    when = when_text(starts_at, notice.tz)
    tell_proposers(
        session,
        topics_of(session, session_id=consult.id),
        lambda p: f"您关注的提议 {p.receipt} 的协商活动改期到 {when}，地点：{consult.place}。",
        key=f"moved:{consult.id}:{stamp}",
        now=now,
    )
    cover_passed_reminders(session, consult=consult, offsets=notice.offsets, now=now)
    _changed(session, consult.id)


def cancel(session: Session, *, consult: ConsultSession, actor_id: int, reason: str, now: datetime, tz: str) -> None:
    """Cancelled for `reason`: invitees are told why, proposers that it is off; the topics go back to 已审定."""
    consult.status = session_status.CANCELLED
    consult.cancel_reason = reason
    consult.cancelled_at = now
    consult.updated_at = now
    when = when_text(consult.starts_at, tz)
    tell_invitees(
        session,
        [i.person_id for i in invitees_of(session, session_id=consult.id)],
        text=(
            f"【取消通知】原定 {when} 的协商活动「{consult.title}」已取消，请不必前往。\n"
            f"取消原因：{reason}\n另有安排会再通知您。"
        ),
        brief=(f"取消：{consult.title}", f"原因：{reason}"),
        key=f"session:{consult.id}:cancelled",
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
    tell_proposers(
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
