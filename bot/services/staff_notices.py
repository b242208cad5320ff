"""Convenors hear of new things: new proposals, 微建言, 附议, 请假 (batched), 不满意 and 没解决 (at once).

A notice is a line with its receipt number. For a convenor who takes batches (the deployment's
default, NOTICE_BATCH_INTERVAL, or their own choice with 通知方式) the line waits in `staff_notices`
and a job sends each convenor one message per batch during the day (NOTICE_DAY_START to
NOTICE_DAY_END); urgent lines, and every line for a convenor who chose 逐条, go to the outbox at once.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import local
from bot.services import outbox
from bot.services.followup import convenors
from bot.settings import Settings
from storage.models import Person, Room, StaffNotice

BATCHED, IMMEDIATE = "batched", "immediate"
MODE_NAMES = {BATCHED: "汇总通知", IMMEDIATE: "逐条通知"}
MAX_LINES = 30
HOW_TO_ACT = "发「待审」处理提议，发「待回应」答复微建言；发「通知方式」可改为逐条通知或汇总通知。"


def mode_of(person: Person, settings: Settings) -> str:
    if person.notice_mode in MODE_NAMES:
        return person.notice_mode
    return BATCHED if settings.notice_batch_interval.total_seconds() > 0 else IMMEDIATE


def tell(
    session: Session, *, room_id: int, line: str, now: datetime, settings: Settings, urgent: bool = False, key: str
) -> int:
    """Tell the room's convenors `line` (at once when urgent or they chose 逐条). `key` makes it once per
    convenor. Returns how many convenors were queued or had the line kept for their batch."""
    told = 0
    for person_id in convenors(session, room_id=room_id):
        person = session.get(Person, person_id)
        if person is None:
            continue
        if urgent or mode_of(person, settings) == IMMEDIATE:
            room = session.get(Room, room_id)
            head = f"【议事室动态】{room.name if room else ''}"
            text = f"{head}\n{line}\n{HOW_TO_ACT}"
            queued = outbox.enqueue(
                session,
                person_id=person_id,
                kind="text",
                payload={"text": text, "template": "reminder"},
                key=f"staff:{key}:{person_id}",
                now=now,
            )
            told += queued is not None
        else:
            session.add(StaffNotice(person_id=person_id, room_id=room_id, line=line, created_at=now))
            told += 1
    return told


def in_daytime(now: datetime, settings: Settings) -> bool:
    here = local(now, settings.timezone).time()
    return settings.notice_day_start <= here < settings.notice_day_end


def send_batches(session: Session, *, now: datetime, settings: Settings) -> int:
    """Each convenor's waiting lines as one message (in the daytime only). Returns messages queued."""
    if not in_daytime(now, settings):
        return 0
    waiting = session.scalars(
        select(StaffNotice)
        .where(StaffNotice.sent_at.is_(None))
        .order_by(StaffNotice.person_id, StaffNotice.id)
        .with_for_update(skip_locked=True)
    ).all()
    by_person: dict[int, list[StaffNotice]] = defaultdict(list)
    for notice in waiting:
        by_person[notice.person_id].append(notice)
    queued = 0
    for person_id, notices in by_person.items():
        rooms = {n.room_id for n in notices}
        names: dict[int, str] = {i: n for i, n in session.execute(select(Room.id, Room.name).where(Room.id.in_(rooms)))}
        lines = [(f"［{names.get(n.room_id, '')}］" if len(rooms) > 1 else "") + n.line for n in notices]
        head = f"【议事室动态】{names.get(notices[0].room_id, '') if len(rooms) == 1 else ''}有 {len(lines)} 条新情况："
        body = "\n".join(f"{i}. {line}" for i, line in enumerate(lines[:MAX_LINES], 1))
        more = f"\n……另有 {len(lines) - MAX_LINES} 条" if len(lines) > MAX_LINES else ""
        outbox.enqueue(
            session,
            person_id=person_id,
            kind="text",
            payload={"text": f"{head}\n{body}{more}\n{HOW_TO_ACT}", "template": "reminder"},
            key=f"staff-batch:{person_id}:{notices[0].id}",
            now=now,
        )
        for notice in notices:
            notice.sent_at = now
        queued += 1
    return queued
