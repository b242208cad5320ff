"""Delivery reports: once every message of a broadcast is final, its author hears how it went.

Run periodically by the scheduler, by any number of processes at once: a broadcast is closed by a
conditional UPDATE (`status='sending'` and no message still in flight), and only the process whose
UPDATE changed the row writes the report, in the same transaction.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import datetime

from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.services import outbox
from bot.text import shorten
from scheduler import jobs
from storage.db import transaction
from storage.models import Broadcast, OutboxMessage

log = logging.getLogger(__name__)

FINAL = ("sent", "failed")
INTERVAL_SECONDS = 20
# What the platform's error codes mean to a convenor.
REASONS: dict[int, str] = {
    40003: "用户标识无效",
    40037: "模板消息ID无效",
    43004: "对方未关注公众号",
    43101: "对方拒收此类消息",
    45015: "超出48小时互动窗口",
    45047: "超出客服消息条数上限",
    60020: "服务器IP不在白名单",
    81013: "企业微信里找不到此人",
}
_CODE = re.compile(r"^(-?\d+):\s*(.*)$", re.DOTALL)


def _in_flight() -> ColumnElement[bool]:
    return exists().where(OutboxMessage.broadcast_id == Broadcast.id, OutboxMessage.status.not_in(FINAL))


def report_finished_broadcasts(factory: sessionmaker[Session], now: datetime) -> int:
    """Close every broadcast whose messages are all sent or failed and queue its report. Returns how many."""
    with factory() as session:
        candidates = list(session.scalars(select(Broadcast.id).where(Broadcast.status == "sending", ~_in_flight())))
    return sum(1 for broadcast_id in candidates if _close(factory, broadcast_id, now))


def report_job() -> int:
    """The scheduler's entry point (module-level, argument-free, so the job store can keep it)."""
    runtime = jobs._rt()
    return report_finished_broadcasts(runtime.factory, runtime.clock.now())


def _close(factory: sessionmaker[Session], broadcast_id: int, now: datetime) -> bool:
    with transaction(factory) as session:
        result = session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == "sending", ~_in_flight())
            .values(status="done", finished_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return False  # another process closed it first, or a message is back in flight
        broadcast = session.get(Broadcast, broadcast_id)
        if broadcast is None or broadcast.author_id is None:
            return True
        rows = session.execute(
            select(OutboxMessage.status, OutboxMessage.last_error).where(OutboxMessage.broadcast_id == broadcast_id)
        ).all()
        outbox.enqueue_text(
            session,
            person_id=broadcast.author_id,
            text=report_text(broadcast, [(str(r.status), r.last_error) for r in rows]),
            key=f"broadcast-report:{broadcast_id}",
            now=now,
        )
    log.info("broadcast %s finished; report queued", broadcast_id)
    return True


def report_text(broadcast: Broadcast, rows: list[tuple[str, str | None]]) -> str:
    sent = sum(1 for status, _ in rows if status == "sent")
    failures = Counter(reason(error) for status, error in rows if status == "failed")
    lines = [f"您的广播「{shorten(broadcast.text, 20)}」发送完成：成功 {sent} 人，失败 {sum(failures.values())} 人。"]
    if failures:
        lines.append("失败原因：")
        lines.extend(f"· {why}: {count} 人" for why, count in failures.most_common())
    lines.append("发送「广播记录」可查看最近的广播。")
    return "\n".join(lines)


def reason(error: str | None) -> str:
    """`45015: response out of time limit` -> `45015 超出48小时互动窗口`."""
    if not error:
        return "原因不明"
    match = _CODE.match(error)
    if match is None:
        # Either a reason already written for people (未配置模板消息…) or an httpx error class name.
        return f"网络错误（{error[:40]}）" if error.isascii() else shorten(error, 40)
    code = int(match.group(1))
    if code <= -500:
        return f"微信服务器错误（HTTP {-code}）"
    return f"{code} {REASONS.get(code) or shorten(match.group(2), 30) or '接口错误'}"
