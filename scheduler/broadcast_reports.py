"""Delivery reports: once every message of a broadcast is final, its author hears how it went.

Run periodically by the scheduler, by any number of processes at once: a broadcast is closed by a
conditional UPDATE (`status='sending'` and no message still in flight), and only the process whose
UPDATE changed the row writes the report, in the same transaction.

A template or subscription message counts as in flight until WeChat reports on it, or CONFIRM_WAIT after it
was sent (a report may never come): the report then says how many went out unconfirmed. Reports arriving
later still land on their rows, which 广播记录 reads.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.services import delivery, outbox
from bot.services.delivery import Tally
from bot.text import shorten
from scheduler import jobs
from storage.db import transaction
from storage.models import Broadcast, OutboxMessage

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 20
CONFIRM_WAIT = timedelta(minutes=10)  # how long the report waits for WeChat's reports on templates


def _in_flight(now: datetime) -> ColumnElement[bool]:
    unreported = and_(
        OutboxMessage.status == outbox.SENT,
        OutboxMessage.via.in_(outbox.REPORTED_LATER),
        OutboxMessage.sent_at > now - CONFIRM_WAIT,
    )
    return exists().where(
        OutboxMessage.broadcast_id == Broadcast.id, or_(OutboxMessage.status.not_in(outbox.FINAL), unreported)
    )


def report_finished_broadcasts(factory: sessionmaker[Session], now: datetime) -> int:
    """Close every broadcast whose messages are all final and queue its report. Returns how many."""
    with factory() as session:
        candidates = list(session.scalars(select(Broadcast.id).where(Broadcast.status == "sending", ~_in_flight(now))))
    return sum(1 for broadcast_id in candidates if _close(factory, broadcast_id, now))


def report_job() -> int:
    """The scheduler's entry point (module-level, argument-free, so the job store can keep it)."""
    runtime = jobs._rt()
    return report_finished_broadcasts(runtime.factory, runtime.clock.now())


def _close(factory: sessionmaker[Session], broadcast_id: int, now: datetime) -> bool:
    with transaction(factory) as session:
        result = session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == "sending", ~_in_flight(now))
            .values(status="done", finished_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return False  # another process closed it first, or a message is back in flight
        broadcast = session.get(Broadcast, broadcast_id)
        if broadcast is None or broadcast.author_id is None:
            return True
        counts = delivery.tallies(session, broadcast_ids=[broadcast_id]).get(broadcast_id, Tally())
        reasons = delivery.not_delivered_reasons(session, broadcast_id=broadcast_id)
        outbox.enqueue_text(
            session,
            person_id=broadcast.author_id,
            text=report_text(broadcast, counts, reasons.most_common()),
            key=f"broadcast-report:{broadcast_id}",
            now=now,
        )
    log.info("broadcast %s finished; report queued", broadcast_id)
    return True


def report_text(broadcast: Broadcast, counts: Tally, reasons: list[tuple[str, int]]) -> str:
    parts = [f"送达 {counts.delivered} 人"]
    if counts.unconfirmed:
        parts.append(f"已发出、微信未确认送达 {counts.unconfirmed} 人")
    if counts.not_delivered:
        parts.append(f"未送达 {counts.not_delivered} 人")
    lines = [f"您的广播「{shorten(broadcast.text, 20)}」发送完成（共 {counts.total} 人）：{'，'.join(parts)}。"]
    if reasons:
        lines.append("未送达原因：")
        lines.extend(f"· {why}: {count} 人" for why, count in reasons)
    lines.append("发送「广播记录」可查看最近的广播。")
    return "\n".join(lines)
