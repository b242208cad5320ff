"""Nudging convenors to record a finished session's three lists (三张清单).

The morning after a session ends (09:00 local), then every 3 days, at most 3 times, while
`lists_recorded_at` is empty. `nudges_sent` counts them; a nudge slot missed while the scheduler
was down is not made up twice: one nudge is sent and the counter jumps to the slots elapsed.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select

from bot.runtime import Runtime
from bot.services import session_status
from bot.services.session_notices import enqueue_notice, when_text
from scheduler import jobs
from storage.db import transaction
from storage.models import ConsultSession

NUDGE_AT = time(9, 0)
EVERY = timedelta(days=3)
MAX_NUDGES = 3


def first_nudge_at(ends_at: datetime, tz: str) -> datetime:
    """09:00 local on the day after the session ended."""
    zone = ZoneInfo(tz)
    day = ends_at.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, NUDGE_AT, tzinfo=zone)


def slots_elapsed(ends_at: datetime, now: datetime, tz: str) -> int:
    """How many nudges should have gone by `now` (0 to MAX_NUDGES)."""
    first = first_nudge_at(ends_at, tz)
    if now < first:
        return 0
    return min(MAX_NUDGES, (now - first) // EVERY + 1)


def nudge(runtime: Runtime, now: datetime | None = None) -> int:
    """Send the nudges due now. Returns how many were queued."""
    now = now or runtime.clock.now()
    tz = runtime.settings.timezone
    sent = 0
    with transaction(runtime.factory) as db:
        due = db.scalars(
            select(ConsultSession)
            .where(
                session_status.held(now),
                ConsultSession.lists_recorded_at.is_(None),
                ConsultSession.nudges_sent < MAX_NUDGES,
                ConsultSession.convenor_id.is_not(None),
            )
            .order_by(ConsultSession.id)
            .with_for_update(of=ConsultSession, skip_locked=True)
        ).all()
        for consult in due:
            slots = slots_elapsed(consult.ends_at, now, tz)
            if consult.nudges_sent >= slots or consult.convenor_id is None:
                continue
            consult.nudges_sent = slots
            enqueue_notice(
                db,
                person_id=consult.convenor_id,
                text=(
                    f"【清单提醒】{when_text(consult.starts_at, tz)} 的协商活动「{consult.title}」（会议编号 {consult.id}）"
                    "已经结束，还没有记录三张清单（协商建议清单、责任落实清单、结果反馈清单）。"
                    f"请发「清单 {consult.id}」录入，一条消息可写多行，一行一条。"
                    f"（第 {slots} 次提醒，最多提醒 {MAX_NUDGES} 次）"
                ),
                key=f"nudge:{consult.id}:{slots}",
                now=now,
            )
            sent += 1
    return sent


def nudge_convenors() -> int:
    """Periodic job (ids only, so it pickles)."""
    return nudge(jobs._rt())


def register(scheduler: BaseScheduler) -> None:
    scheduler.add_job(
        nudge_convenors,
        "interval",
        minutes=30,
        id="nudge:convenors",
        replace_existing=True,
        coalesce=True,
        misfire_grace_time=3600,
    )
