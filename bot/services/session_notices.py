"""What sessions say to people: the names of formats, the date line, the details block every notice
and reminder shares, and how those notices are queued (the reminder template outside 48 hours)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from bot.clock import fmt_local, local
from bot.services import outbox, signed_links
from bot.text import shorten
from storage.models import ConsultSession, OutboxMessage, Proposal, ProposalSupporter, SessionFormat, SessionTopic

FORMAT_NAMES = {SessionFormat.meeting: "会议", SessionFormat.onsite: "现场", SessionFormat.online: "网络"}
FORMATS = [SessionFormat.meeting, SessionFormat.onsite, SessionFormat.online]
WEEKDAYS = "一二三四五六日"
ANSWER_HOW = "请回复「参加」或「请假 理由」（如：请假 出差）。"
THING = 20  # a template `thing` field holds 20 characters
Brief = tuple[str, str]  # what a notice says in the reminder template's two fields, when its text does not fit


CALENDAR = "calendar"


def ics_url(base_url: str, session_id: int, *, secret: str) -> str:
    """The session's .ics file, signed: its details (place, phone numbers typed there) are for invitees."""
    key = signed_links.sign(CALENDAR, session_id, secret=secret)
    return f"{base_url.rstrip('/')}/sessions/{session_id}.ics?key={key}"


def ics_key_valid(session_id: int, key: str | None, *, secret: str) -> bool:
    return signed_links.verify(CALENDAR, session_id, key, secret=secret)


def when_text(moment: datetime, tz: str) -> str:
    """`2026年12月3日 15:00（星期四）`."""
    return f"{fmt_local(moment, tz)}（星期{WEEKDAYS[local(moment, tz).weekday()]}）"


def span_text(starts: datetime, ends: datetime, tz: str) -> str:
    """`2026年12月3日 15:00（星期四）至 17:00`; the end's date too when it is another day."""
    end = f"{local(ends, tz):%H:%M}" if local(ends, tz).date() == local(starts, tz).date() else when_text(ends, tz)
    return f"{when_text(starts, tz)}至 {end}"


def short_when(moment: datetime, tz: str) -> str:
    """`12月3日 15:00`: a time in a template field of 20 characters."""
    here = local(moment, tz)
    return f"{here.month}月{here.day}日 {here:%H:%M}"


def short_span(consult: ConsultSession, tz: str) -> str:
    """`12月3日 15:00-17:00`."""
    return f"{short_when(consult.starts_at, tz)}-{local(consult.ends_at, tz):%H:%M}"


def length_text(length: timedelta) -> str:
    """`2 小时`, `1 小时 30 分钟`, `45 分钟`."""
    hours, minutes = divmod(int(length.total_seconds()) // 60, 60)
    return " ".join(part for part in (f"{hours} 小时" if hours else "", f"{minutes} 分钟" if minutes else "") if part)


def ahead_text(seconds: float) -> str:
    """`3 天` / `2 小时` / `30 分钟`: how long before the start a reminder goes out."""
    whole = int(seconds)
    if whole % 86400 == 0:
        return f"{whole // 86400} 天"
    if whole % 3600 == 0:
        return f"{whole // 3600} 小时"
    return f"{max(1, whole // 60)} 分钟"


def details(consult: ConsultSession, *, tz: str, base_url: str, secret: str) -> str:
    """Title and topics, time, place, format, materials and the calendar link."""
    topics = _topic_names(consult)
    named = [f"会议：{consult.title}", f"议题：{'；'.join(topics)}"] if topics != [consult.title] and topics else []
    lines = [
        *(named or [f"议题：{consult.title}"]),
        f"时间：{span_text(consult.starts_at, consult.ends_at, tz)}",
        f"地点：{consult.place or '待定'}",
        f"形式：{FORMAT_NAMES.get(SessionFormat(consult.format), consult.format)}",
    ]
    if consult.materials_url:
        lines.append(f"材料：{consult.materials_url}")
    lines.append(f"加入日历：{ics_url(base_url, consult.id, secret=secret)}")
    lines.append(f"会议编号：{consult.id}")
    return "\n".join(lines)


def _topic_names(consult: ConsultSession) -> list[str]:
    """The session's topics as the notices name them (read through the session the row belongs to)."""
    db = object_session(consult)
    if db is None or consult.id is None:
        return []
    chosen = select(SessionTopic.proposal_id).where(SessionTopic.session_id == consult.id)
    return [
        topic_name(d)
        for d in db.scalars(select(Proposal.description).where(Proposal.id.in_(chosen)).order_by(Proposal.id))
    ]


def topic_name(description: str) -> str:
    """How a topic is named in 新建协商's list and the notices; the first one is a session's default title."""
    return shorten(description, 30)


def enqueue_notice(
    session: Session, *, person_id: int, text: str, key: str, now: datetime, brief: Brief | None = None
) -> OutboxMessage | None:
    """A session notice or reminder: outside the 48-hour window it goes as the reminder template, whose two
    fields hold `brief` when given (else the first 40 characters of the text)."""
    payload: dict[str, object] = {"text": text, "template": "reminder"}
    if brief is not None:
        payload["fields"] = {"thing1": shorten(brief[0], THING), "thing2": shorten(brief[1], THING)}
    return outbox.enqueue(session, person_id=person_id, kind="text", payload=payload, key=key, now=now)


def tell_invitees(
    session: Session, person_ids: list[int], *, text: str, key: str, now: datetime, brief: Brief | None = None
) -> None:
    """The same notice to each invitee, keyed `<key>:<person id>` so each is queued once."""
    for person_id in person_ids:
        enqueue_notice(session, person_id=person_id, text=text, key=f"{key}:{person_id}", now=now, brief=brief)


def tell_proposers(
    session: Session, topics: list[Proposal], text: Callable[[Proposal], str], *, key: str, now: datetime
) -> None:
    """Each topic's proposer and supporters, once each, hear `text` about their proposal."""
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
