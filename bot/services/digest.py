"""What convenors are told on a timetable: overdue responsibility items and long-unanswered 微建言
(督办), once a local day at a set time until answered, and a digest of their room on the 1st of every month.

An item is answered when its progress is 100%, `answered_at` is set, or a published feedback item
of the same session is linked to one of its proposals or micro-suggestions (then `answered_at` is
set here). `last_overdue_reminder_at` keeps 督办 to one reminder per local day, whatever runs it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from bot.clock import local
from bot.services import stats, suggestions
from bot.services.followup import convenors, reopened_in_rooms, tell_convenors
from bot.services.notify import local_date
from bot.services.proposals import STATUS_NAMES
from bot.services.rooms import LEVEL_NAMES
from bot.settings import Settings
from bot.text import shorten
from storage.models import ConsultSession, ListItem, ListItemLink, OutboxMessage, Room, RoomLevel, Suggestion

MAX_LISTED = 20


# --- 督办 -------------------------------------------------------------------------------------------


def _overdue_query(now: datetime) -> Select[ListItem]:
    return (
        select(ListItem)
        .join(ConsultSession, ConsultSession.id == ListItem.session_id)
        .where(
            ConsultSession.status != "cancelled",
            ListItem.kind == "responsibilities",
            ListItem.deadline < now,
            ListItem.progress < 100,
            ListItem.answered_at.is_(None),
        )
        .order_by(ConsultSession.room_id, ListItem.deadline, ListItem.id)
    )


def answered_by_feedback(session: Session, *, item: ListItem) -> datetime | None:
    """When a published feedback item of the same session answered one of the item's links, if one did."""
    links = session.execute(
        select(ListItemLink.proposal_id, ListItemLink.suggestion_id).where(ListItemLink.item_id == item.id)
    ).all()
    proposals = [p for p, _ in links if p is not None]
    suggestions = [s for _, s in links if s is not None]
    if not proposals and not suggestions:
        return None
    return session.scalar(
        select(func.min(ListItem.published_at))
        .join(ListItemLink, ListItemLink.item_id == ListItem.id)
        .where(
            ListItem.session_id == item.session_id,
            ListItem.kind == "feedback",
            ListItem.published_at.is_not(None),
            or_(ListItemLink.proposal_id.in_(proposals), ListItemLink.suggestion_id.in_(suggestions)),
        )
    )


def overdue(session: Session, *, now: datetime, room_id: int | None = None, lock: bool = False) -> list[ListItem]:
    """Responsibility items past their deadline and not answered; those answered meanwhile get `answered_at`."""
    stmt = _overdue_query(now)
    if room_id is not None:
        stmt = stmt.where(ConsultSession.room_id == room_id)
    if lock:
        stmt = stmt.with_for_update(of=ListItem, skip_locked=True)
    still = []
    for item in session.scalars(stmt).all():
        answered = answered_by_feedback(session, item=item)
        if answered is not None:
            item.answered_at = answered
        else:
            still.append(item)
    return still


def _overdue_line(item: ListItem, *, today: date, tz: str) -> str:
    assert item.deadline is not None  # only items with a deadline can be overdue
    days = (today - local(item.deadline, tz).date()).days
    return (
        f"{shorten(item.text, 30)}（{item.unit or '责任单位未定'}，期限 {local_date(item.deadline, tz)}，"
        f"进度 {item.progress}%，逾期 {max(days, 1)} 天）"
    )


def remind_overdue(session: Session, *, now: datetime, settings: Settings) -> int:
    """Remind each room's convenors of its overdue items and of 微建言 unanswered for longer than
    SUGGESTION_ANSWER_WITHIN, at most once a local day. Returns messages queued."""
    tz = settings.timezone
    here = local(now, tz)
    if here.time() < settings.overdue_reminder_time:
        return 0
    today = here.date()
    by_room: dict[int, list[ListItem]] = defaultdict(list)
    for item in overdue(session, now=now, lock=True):
        last = item.last_overdue_reminder_at
        if last is None or local(last, tz).date() < today:
            by_room[_room_id(session, item)].append(item)
    waiting: dict[int, list[Suggestion]] = defaultdict(list)
    for note in suggestions.unanswered(
        session, room_ids=_all_rooms(session), older_than=now - settings.suggestion_answer_within, lock=True
    ):
        waiting[note.room_id].append(note)
    queued = 0
    for room_id in sorted(set(by_room) | set(waiting)):
        room = session.get(Room, room_id)
        items, notes = by_room.get(room_id, []), waiting.get(room_id, [])
        parts = [f"【督办提醒】{room.name if room else ''}"]
        if items:
            parts.append(_items_part(items, today=today, tz=tz))
        if notes:
            parts.append(_notes_part(notes, now=now, within=settings.suggestion_answer_within))
        sent = tell_convenors(
            session, room_id=room_id, text="\n".join(parts), key=f"overdue:{room_id}:{today.isoformat()}", now=now
        )
        if sent:
            for item in items:
                item.last_overdue_reminder_at = now
        queued += sent
    return queued


def _items_part(items: list[ListItem], *, today: date, tz: str) -> str:
    lines = "\n".join(f"{n}. {_overdue_line(i, today=today, tz=tz)}" for n, i in enumerate(items[:MAX_LISTED], 1))
    more = f"\n……另有 {len(items) - MAX_LISTED} 项" if len(items) > MAX_LISTED else ""
    return (
        f"有 {len(items)} 项责任事项已过办理期限，尚未反馈：\n{lines}{more}\n"
        "请督促责任单位办理。发「办理进度」更新进度（100% 为办结）；办结后请记入结果反馈清单并发布。"
    )


def _notes_part(notes: list[Suggestion], *, now: datetime, within: timedelta) -> str:
    lines = "\n".join(
        f"{n}. {note.receipt} {shorten(note.text, 30)}（已等 {max((now - note.created_at).days, 1)} 天）"
        for n, note in enumerate(notes[:MAX_LISTED], 1)
    )
    more = f"\n……另有 {len(notes) - MAX_LISTED} 条" if len(notes) > MAX_LISTED else ""
    return (
        f"有 {len(notes)} 条微建言超过 {within.days} 天没有答复：\n{lines}{more}\n"
        "发「待回应」逐条答复，居民会收到通知。"
    )


def _all_rooms(session: Session) -> list[int]:
    return list(session.scalars(select(Room.id)).all())


def _room_id(session: Session, item: ListItem) -> int:
    return int(session.scalar(select(ConsultSession.room_id).where(ConsultSession.id == item.session_id)) or 0)


# --- the monthly digest ----------------------------------------------------------------------------


def _level_name(level: str) -> str:
    return LEVEL_NAMES[RoomLevel(level)] if level in RoomLevel.__members__ else level


def _percent(rate: float | None) -> str:
    return "暂无" if rate is None else f"{round(rate * 100)}%"


def digest_text(session: Session, *, room: Room, now: datetime, settings: Settings) -> str:
    """The room's month in a few lines: sessions against the yearly minimum, open work, adoption, satisfaction."""
    tz = settings.timezone
    zone = ZoneInfo(tz)
    here = local(now, tz)
    month = (here.replace(day=1) - timedelta(days=1)) if here.day == 1 else here  # the month just ended
    year = month.year
    held = stats.sessions_held_in_room(session, room_id=room.id, year=year, tz=zone, now=now)
    ahead = stats.sessions_ahead(session, year=year, tz=zone, now=now, room_id=room.id)
    minimum = settings.min_sessions_per_year.get(room.level, stats.MIN_SESSIONS.get(room.level, 1))
    gap = f"还差 {minimum - held} 次" if held < minimum else "已达到"
    open_by_status = stats.open_proposals_by_status(session, room_id=room.id)
    statuses = "、".join(f"{STATUS_NAMES.get(s, s)} {n}" for s, n in open_by_status.items())
    opened = sum(open_by_status.values())
    late = len(overdue(session, now=now, room_id=room.id))
    reopened = len(reopened_in_rooms(session, room_ids=[room.id]))
    adoption = stats.adoption_counts(session, room_id=room.id, year=year, tz=zone)
    satisfaction, rated = stats.room_satisfaction(session, room_id=room.id, year=year, tz=zone)
    lines = [
        f"【月度简报】{room.name}（{_level_name(room.level)}）· {month.year}年{month.month}月",
        f"· {year}年已举行协商 {held} 次"
        + (f"（另有 {ahead} 次尚未举行）" if ahead else "")
        + f"，年度至少 {minimum} 次，{gap}",
        f"· 在办提议 {opened} 条" + (f"（{statuses}）" if statuses else ""),
        f"· 逾期未反馈的责任事项 {late} 项",
        f"· 群众反映没解决、待答复 {reopened} 项",
        f"· {year}年采纳率 {_percent(adoption.rate)}" + (f"（{adoption.summary()}）" if adoption.total else ""),
        f"· {year}年群众满意度 {_percent(satisfaction)}（评价 {rated} 人次）",
        "发「待审」「办理进度」「回头看」处理。",
    ]
    return "\n".join(lines)


def send_digests(session: Session, *, now: datetime, settings: Settings) -> int:
    """Each room's digest to its convenors, once a month from the 1st at DIGEST_TIME. Returns messages queued."""
    tz = settings.timezone
    here = local(now, tz)
    if here.day == 1 and here.time() < settings.digest_time:
        return 0
    month = f"{here.year}-{here.month:02d}"
    queued = 0
    for room in session.scalars(select(Room).order_by(Room.id)).all():
        people = convenors(session, room_id=room.id)
        keys = {p: f"digest:{room.id}:{month}:{p}" for p in people}
        if not people or _all_queued(session, list(keys.values())):
            continue
        text = digest_text(session, room=room, now=now, settings=settings)
        queued += tell_convenors(session, room_id=room.id, text=text, key=f"digest:{room.id}:{month}", now=now)
    return queued


def _all_queued(session: Session, keys: list[str]) -> bool:
    found = session.scalar(select(func.count()).where(OutboxMessage.idempotency_key.in_(keys)))
    return int(found or 0) == len(keys)
