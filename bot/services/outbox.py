"""The outbox: the only way a message leaves other than the passive reply.

Rows are written in the caller's transaction, so a message exists exactly when the change that
caused it was committed. `scheduler/outbox.py` sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import OutboxMessage

# A row's life. In flight: pending (waiting, or back for a retry), sending (claimed by a worker).
PENDING, SENDING = "pending", "sending"
# Final (never sent again):
SENT = "sent"  # the API took it; a template or subscription message then waits for WeChat's report
DELIVERED = "delivered"  # WeChat reported the template or subscription message delivered
BLOCKED = "blocked"  # the person refuses this kind of message (blocked the account's templates, 43101)
UNFOLLOWED = "unfollowed"  # the person unfollowed the account: not sent, not retried
UNDELIVERED = "undelivered"  # no way to reach them (48 hours passed, no subscription, no template)
FAILED = "failed"  # an error that retrying did not (or cannot) cure
FINAL = frozenset({SENT, DELIVERED, BLOCKED, UNFOLLOWED, UNDELIVERED, FAILED})
REPORTED_LATER = frozenset({"template", "subscribe"})  # ways out whose delivery WeChat reports by event

# What a message is for: it picks the template or subscription template it goes as past 48 hours.
PURPOSES = ("result", "followup", "reminder", "notice")


def purpose(kind: str, payload: Mapping[str, Any]) -> str:
    """`payload["template"]` when it names a purpose; a row of kind "reminder" is a reminder; the rest
    (status letters, broadcasts, answers) are notices."""
    named = payload.get("template")
    if named in PURPOSES:
        return str(named)
    return "reminder" if kind == "reminder" else "notice"


def enqueue_text(session: Session, *, person_id: int, text: str, key: str, now: datetime) -> OutboxMessage | None:
    """Queue a text to one person. `key` makes it idempotent: the same key is queued once."""
    return enqueue(session, person_id=person_id, kind="text", payload={"text": text}, key=key, now=now)


def enqueue(
    session: Session, *, person_id: int, kind: str, payload: dict[str, Any], key: str, now: datetime
) -> OutboxMessage | None:
    existing = session.scalars(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)).first()
    if existing is not None:
        return None
    row = OutboxMessage(
        person_id=person_id,
        kind=kind,
        payload=payload,
        idempotency_key=key,
        status=PENDING,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    return row


@dataclass(frozen=True)
class Backlog:
    """Rows not yet final: `due` may go now, `later` wait for a retry or a throttle, `sending` are claimed."""

    due: int
    later: int
    sending: int
    oldest_due_wait: timedelta  # how long the oldest due row has waited (zero when none is due)


def backlog(session: Session, *, now: datetime) -> Backlog:
    """What the outbox holds that has not gone out yet (one grouped query on the status index)."""
    is_due = OutboxMessage.next_attempt_at <= now
    rows = session.execute(
        select(OutboxMessage.status, is_due, func.count(), func.min(OutboxMessage.next_attempt_at))
        .where(OutboxMessage.status.in_((PENDING, SENDING)))
        .group_by(OutboxMessage.status, is_due)
    ).all()
    counts = {"due": 0, "later": 0, "sending": 0}
    oldest: datetime | None = None
    for status, due, count, first in rows:
        if status == SENDING:
            counts["sending"] += count
        elif due:
            counts["due"] += count
            oldest = first
        else:
            counts["later"] += count
    wait = now - oldest if oldest is not None else timedelta(0)
    return Backlog(**counts, oldest_due_wait=max(wait, timedelta(0)))
