"""What convenors are told on a timetable: what is past its limit (督办: responsibility items, proposals,
微建言; the clocks are in bot/services/clocks.py and docs/clocks.md), once a local day at a set time until
answered, the parent room's convenors too past the second limit, and a digest of their room on the 1st of
every month.

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
from bot.services import clocks, rates, stats
from bot.services.followup import convenors, reopened_in_rooms, tell_convenors
from bot.services.notify import local_date
from bot.services.proposals import STATUS_NAMES
from bot.services.rooms import LEVEL_NAMES
from bot.settings import Settings
from bot.text import shorten
from storage.models import (
    ConsultSession,
    ListItem,
    ListItemLink,
    OutboxMessage,
    Proposal,
    Room,
    RoomLevel,
    Suggestion,
)

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
    """Remind each room's convenors of what is past its limit (docs/clocks.md): responsibility items past
    their deadline, proposals past their first answer's or 审定's limit, 微建言 past their answer's; and each
    parent room's convenors of its child rooms' items past the second limit. At most once a local day.
    Returns messages queued."""
    tz = settings.timezone
    here = local(now, tz)
    if here.time() < settings.overdue_reminder_time:
        return 0
    today = here.date()
    limits = clocks.Limits.of(settings)
    rooms = _all_rooms(session)
    by_room: dict[int, list[ListItem]] = defaultdict(list)
    for item in overdue(session, now=now, lock=True):
        last = item.last_overdue_reminder_at
        if last is None or local(last, tz).date() < today:
            by_room[_room_id(session, item)].append(item)
    late: dict[int, list[Proposal]] = defaultdict(list)
    for proposal in clocks.late_proposals(session, now=now, room_ids=rooms):
        late[proposal.room_id].append(proposal)
    waiting: dict[int, list[Suggestion]] = defaultdict(list)
    for note in clocks.late_suggestions(session, now=now, room_ids=rooms, lock=True):
        waiting[note.room_id].append(note)
    queued = 0
    for room_id in sorted(set(by_room) | set(late) | set(waiting)):
        room = session.get(Room, room_id)
        items, props, notes = by_room.get(room_id, []), late.get(room_id, []), waiting.get(room_id, [])
        parts = [f"【督办提醒】{room.name if room else ''}"]
        if items:
            parts.append(_items_part(items, today=today, tz=tz))
        if props:
            parts.append(_proposals_part(props, now=now, tz=tz))
        if notes:
            parts.append(_notes_part(notes, now=now, tz=tz))
        sent = tell_convenors(
            session, room_id=room_id, text="\n".join(parts), key=f"overdue:{room_id}:{today.isoformat()}", now=now
        )
        if sent:
            for item in items:
                item.last_overdue_reminder_at = now
        queued += sent
    return queued + _remind_parents(session, now=now, limits=limits, today=today)


def _remind_parents(session: Session, *, now: datetime, limits: clocks.Limits, today: date) -> int:
    """上级督办: each parent room's convenors hear of its child rooms' items past the second limit."""
    tz = limits.tz
    queued = 0
    parents = session.scalars(select(Room).where(Room.id.in_(select(Room.parent_id))).order_by(Room.id)).all()
    for parent in parents:
        children = list(session.scalars(select(Room).where(Room.parent_id == parent.id).order_by(Room.id)))
        lines: list[str] = []
        for child in children:
            items = [
                i
                for i in overdue(session, now=now, room_id=child.id)
                if clocks.item_escalated(i, now=now, limits=limits)
            ]
            props = clocks.late_proposals(session, now=now, room_ids=[child.id], escalated=True)
            notes = clocks.late_suggestions(session, now=now, room_ids=[child.id], escalated=True)
            found = [
                *(f"责任事项 {_overdue_line(i, today=today, tz=tz)}" for i in items),
                *(_proposal_line(p, now=now, tz=tz) for p in props),
                *(_note_line(n, now=now, tz=tz) for n in notes),
            ]
            lines += [f"［{child.name}］{line}" for line in found]
        if not lines:
            continue
        listed = "\n".join(f"{n}. {line}" for n, line in enumerate(lines[:MAX_LISTED], 1))
        more = f"\n……另有 {len(lines) - MAX_LISTED} 项" if len(lines) > MAX_LISTED else ""
        text = (
            f"【上级督办】{parent.name}\n下级议事室有 {len(lines)} 项超过办理时限 {limits.escalate} 个工作日以上：\n"
            f"{listed}{more}\n请督促下级议事室的召集人办理。"
        )
        queued += tell_convenors(
            session, room_id=parent.id, text=text, key=f"overdue-up:{parent.id}:{today.isoformat()}", now=now
        )
    return queued


def _items_part(items: list[ListItem], *, today: date, tz: str) -> str:
    lines = "\n".join(f"{n}. {_overdue_line(i, today=today, tz=tz)}" for n, i in enumerate(items[:MAX_LISTED], 1))
    more = f"\n……另有 {len(items) - MAX_LISTED} 项" if len(items) > MAX_LISTED else ""
    return (
        f"有 {len(items)} 项责任事项已过办理期限，尚未反馈：\n{lines}{more}\n"
        "请督促责任单位办理。发「办理进度」更新进度（100% 为办结）；办结后请记入结果反馈清单并发布。"
    )


def _proposal_line(proposal: Proposal, *, now: datetime, tz: str) -> str:
    due = clocks.due_of(proposal) or now
    what = "审定" if proposal.decision_due_at is not None and due == proposal.decision_due_at else "答复"
    forced = "，附议达到人数" if proposal.threshold_reached_at is not None else ""
    return (
        f"提议 {proposal.receipt} {shorten(proposal.description, 30)}（{what}期限 {clocks.day_label(due, tz)}{forced}，"
        f"逾期 {clocks.late_workdays(due, now=now, tz=tz)} 个工作日）"
    )


def _proposals_part(props: list[Proposal], *, now: datetime, tz: str) -> str:
    lines = "\n".join(f"{n}. {_proposal_line(p, now=now, tz=tz)}" for n, p in enumerate(props[:MAX_LISTED], 1))
    more = f"\n……另有 {len(props) - MAX_LISTED} 条" if len(props) > MAX_LISTED else ""
    return f"有 {len(props)} 条提议超过答复时限：\n{lines}{more}\n发「待审」处理，提议人会收到通知。"


def _note_line(note: Suggestion, *, now: datetime, tz: str) -> str:
    due = note.answer_due_at or now
    return (
        f"微建言 {note.receipt} {shorten(note.text, 30)}（答复期限 {clocks.day_label(due, tz)}，"
        f"逾期 {clocks.late_workdays(due, now=now, tz=tz)} 个工作日）"
    )


def _notes_part(notes: list[Suggestion], *, now: datetime, tz: str) -> str:
    lines = "\n".join(f"{n}. {_note_line(note, now=now, tz=tz)}" for n, note in enumerate(notes[:MAX_LISTED], 1))
    more = f"\n……另有 {len(notes) - MAX_LISTED} 条" if len(notes) > MAX_LISTED else ""
    return f"有 {len(notes)} 条微建言超过答复时限：\n{lines}{more}\n发「待回应」逐条答复，居民会收到通知。"


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
    minimum = stats.minimum(settings.min_sessions_per_year, room.level)
    gap = f"还差 {minimum - held} 次" if held < minimum else "已达到"
    open_by_status = stats.open_proposals_by_status(session, room_id=room.id)
    statuses = "、".join(f"{STATUS_NAMES.get(s, s)} {n}" for s, n in open_by_status.items())
    opened = sum(open_by_status.values())
    late = len(overdue(session, now=now, room_id=room.id))
    reopened = len(reopened_in_rooms(session, room_ids=[room.id]))
    adoption = stats.adoption_counts(session, room_id=room.id, year=year, tz=zone)
    three = rates.of_room(session, room=room, year=year, tz=tz, now=now)
    lines = [
        f"【月度简报】{room.name}（{_level_name(room.level)}）· {month.year}年{month.month}月",
        f"· {year}年已举行协商 {held} 次"
        + (f"（另有 {ahead} 次尚未举行）" if ahead else "")
        + f"，年度至少 {minimum} 次，{gap}",
        f"· 在办提议 {opened} 条" + (f"（{statuses}）" if statuses else ""),
        f"· 逾期未反馈的责任事项 {late} 项",
        f"· 群众反映没解决、待答复 {reopened} 项",
        f"· {year}年采纳率 {_percent(adoption.rate)}" + (f"（{adoption.summary()}）" if adoption.total else ""),
        f"· {year}年三率：响应率 {three.response.text()}，办结率 {three.completion.text()}，"
        f"满意率 {three.satisfaction.percent()}（评价 {three.satisfaction.total} 人次）",
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
