"""The outbox: the only way a message leaves other than the passive reply.

Rows are written in the caller's transaction, so a message exists exactly when the change that
caused it was committed. `scheduler/outbox.py` sends them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import OutboxMessage


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
        status="pending",
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    return row
