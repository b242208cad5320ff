"""What became of a message after it left: WeChat's reports on template and subscription messages,
unfollowing and following again, and the tallies the broadcast report and 广播记录 read.

The API taking a customer-service or WeCom message is its delivery; a template or subscription message
is only `sent` until WeChat's report (TEMPLATESENDJOBFINISH, subscribe_msg_sent_event) names its msgid.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.incoming import EventItem
from bot.services.outbox import (
    BLOCKED,
    DELIVERED,
    FAILED,
    FINAL,
    PENDING,
    REPORTED_LATER,
    SENT,
    UNDELIVERED,
    UNFOLLOWED,
)
from bot.text import shorten
from storage.models import OutboxMessage, Person

UNFOLLOWED_REASON = "对方已取消关注公众号"
TEMPLATE_DELIVERED = "success"
TEMPLATE_BLOCKED = "failed:user block"
REFUSED = 43101  # the person refuses this message (a subscription withdrawn, templates blocked)
# What the platform's error codes mean to a convenor.
REASONS: dict[int, str] = {
    40003: "用户标识无效",
    40037: "模板ID无效",
    43004: "对方未关注公众号",
    43101: "对方拒收此类消息",
    45015: "超出48小时互动窗口",
    45047: "超出客服消息条数上限",
    47003: "模板参数不对",
    60020: "服务器IP不在白名单",
    81013: "企业微信里找不到此人",
}
STATUS_REASONS = {UNFOLLOWED: UNFOLLOWED_REASON, BLOCKED: "对方拒收此类消息"}
_CODE = re.compile(r"^(-?\d+):\s*(.*)$", re.DOTALL)


# --- reports from WeChat ---------------------------------------------------------------------------


def record_template_report(session: Session, *, person_id: int, report: EventItem) -> bool:
    """TEMPLATESENDJOBFINISH: the template message with that msgid to that person gets its final status.
    False when no such row waits (an unknown msgid, another person's, or a report already taken)."""
    if not report.msg_id:
        return False
    status = report.status.strip()
    final = DELIVERED if status == TEMPLATE_DELIVERED else BLOCKED if status == TEMPLATE_BLOCKED else FAILED
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.msgid == report.msg_id,
            OutboxMessage.person_id == person_id,
            OutboxMessage.via == "template",
            OutboxMessage.status == SENT,
        )
        .values(status=final, last_error=None if final == DELIVERED else status[:500])
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def record_subscription_report(
    session: Session, *, person_id: int, report: EventItem, template_of: Callable[[str, dict[str, Any]], str]
) -> int | None:
    """subscribe_msg_sent_event: the subscription message it names gets its final status. WeChat's send answer
    may carry no msgid, so without one the oldest unreported send of that template to the person is taken
    (`template_of(kind, payload)` says which template a row went as). Returns the row's id, or None."""
    waiting = select(OutboxMessage).where(
        OutboxMessage.person_id == person_id, OutboxMessage.via == "subscribe", OutboxMessage.status == SENT
    )
    row = None
    if report.msg_id:
        row = session.scalars(waiting.where(OutboxMessage.msgid == report.msg_id)).first()
    if row is None:
        candidates = session.scalars(waiting.order_by(OutboxMessage.sent_at, OutboxMessage.id)).all()
        row = next((r for r in candidates if template_of(r.kind, r.payload) == report.template_id), None)
    if row is None:
        return None
    row.status = DELIVERED if report.code == 0 else BLOCKED if refused(report) else FAILED
    row.last_error = None if report.code == 0 else f"{report.code}: {report.status}"[:500]
    return row.id


def refused(report: EventItem) -> bool:
    """A subscription message the person refuses (43101: they took the subscription back)."""
    return report.code == REFUSED or "refuse" in report.status.lower()


# --- following ---------------------------------------------------------------------------------------


def mark_unfollowed(session: Session, *, person: Person, now: datetime) -> int:
    """取消关注: nothing more goes to them (their items stay). Waiting rows end now; returns how many."""
    person.unfollowed_at = now
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.person_id == person.id, OutboxMessage.status == PENDING)
        .values(status=UNFOLLOWED, last_error=UNFOLLOWED_REASON)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def mark_followed(person: Person) -> None:
    """关注 again: messages go to them again (those that ended while they were away stay ended)."""
    person.unfollowed_at = None


# --- tallies -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """A group of messages by what became of them."""

    delivered: int = 0  # taken by the API (customer-service, WeCom) or reported delivered by WeChat
    unconfirmed: int = 0  # template or subscription messages WeChat has not reported on
    blocked: int = 0
    unfollowed: int = 0
    undelivered: int = 0  # no way to reach them
    failed: int = 0
    waiting: int = 0  # not final yet

    @property
    def not_delivered(self) -> int:
        return self.blocked + self.unfollowed + self.undelivered + self.failed

    @property
    def total(self) -> int:
        return self.delivered + self.unconfirmed + self.not_delivered + self.waiting


def tally(rows: Iterable[tuple[str, str | None, int]]) -> Tally:
    """(status, via, count) groups -> a Tally."""
    counts: Counter[str] = Counter()
    for status, via, count in rows:
        if status == SENT:
            counts["unconfirmed" if via in REPORTED_LATER else "delivered"] += count
        elif status == DELIVERED:
            counts["delivered"] += count
        elif status in FINAL:
            counts[status] += count
        else:
            counts["waiting"] += count
    return Tally(**counts)


def tallies(session: Session, *, broadcast_ids: list[int]) -> dict[int, Tally]:
    """Each broadcast's messages by what became of them (one grouped query)."""
    if not broadcast_ids:
        return {}
    rows = session.execute(
        select(OutboxMessage.broadcast_id, OutboxMessage.status, OutboxMessage.via, func.count())
        .where(OutboxMessage.broadcast_id.in_(broadcast_ids))
        .group_by(OutboxMessage.broadcast_id, OutboxMessage.status, OutboxMessage.via)
    ).all()
    groups: dict[int, list[tuple[str, str | None, int]]] = {}
    for broadcast_id, status, via, count in rows:
        if broadcast_id is not None:
            groups.setdefault(broadcast_id, []).append((str(status), via, int(count)))
    return {broadcast_id: tally(group) for broadcast_id, group in groups.items()}


def not_delivered_reasons(session: Session, *, broadcast_id: int) -> Counter[str]:
    """Why a broadcast's messages did not arrive, in words a convenor reads, with how many each."""
    rows = session.execute(
        select(OutboxMessage.status, OutboxMessage.last_error).where(
            OutboxMessage.broadcast_id == broadcast_id,
            OutboxMessage.status.in_((BLOCKED, UNFOLLOWED, UNDELIVERED, FAILED)),
        )
    ).all()
    return Counter(reason(r.last_error, str(r.status)) for r in rows)


def reason(error: str | None, status: str = FAILED) -> str:
    """`45015: response out of time limit` -> `45015 超出48小时互动窗口`; an unfollowed or refusing person
    is named as such whatever the error said."""
    if status in STATUS_REASONS:
        return STATUS_REASONS[status]
    if status == UNDELIVERED and error:  # the worker's own words, every way it could not take
        return shorten(error, 80)
    if not error:
        return "原因不明"
    if error.startswith("failed:"):  # a template report: `failed: system failed`
        return f"微信发送失败（{shorten(error.removeprefix('failed:').strip(), 30)}）"
    match = _CODE.match(error)
    if match is None:
        # Either a reason already written for people (未配置模板消息…) or an httpx error class name.
        return f"网络错误（{error[:40]}）" if error.isascii() else shorten(error, 40)
    code = int(match.group(1))
    if code <= -500:
        return f"微信服务器错误（HTTP {-code}）"
    return f"{code} {REASONS.get(code) or shorten(match.group(2), 30) or '接口错误'}"
