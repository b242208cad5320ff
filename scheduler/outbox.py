"""The outbox worker: claims due rows, sends them, records the outcome with retries and backoff.

Rows are claimed in a short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers
share the work) and marked `sending` before any network call; a row is sent by one worker only.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.outbound.api import ApiError, WeChatApi, WeComApi
from bot.services.privacy import mask_id
from storage.db import transaction
from storage.models import OutboxMessage, Person

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
)
STUCK_AFTER = timedelta(minutes=5)  # a `sending` row older than this belonged to a worker that died
PERMANENT = frozenset({40003, 43004, 45015, 45047, 43101, 60020, 81013})


class OutboxWorker:
    def __init__(self, factory: sessionmaker[Session], clock: Clock, wechat: WeChatApi, wecom: WeComApi) -> None:
        self.factory = factory
        self.clock = clock
        self.wechat = wechat
        self.wecom = wecom
        self.wake = threading.Event()

    def run_once(self, limit: int = 100) -> int:
        """Send what is due now. Returns how many rows were handled."""
        claimed = self._claim(limit)
        for row_id, person_channel, external_id, simulated, kind, payload in claimed:
            error: str | None = None
            permanent = False
            try:
                if not simulated:
                    self._send(person_channel, external_id, kind, payload)
            except ApiError as exc:
                error, permanent = str(exc), exc.code in PERMANENT
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}"
            self._finish(row_id, error, permanent)
        return len(claimed)

    def _send(self, channel: str, external_id: str, kind: str, payload: dict[str, object]) -> None:
        text = str(payload.get("text", ""))
        if channel == "wecom":
            self.wecom.send_text([external_id], text)
        else:
            self.wechat.send_text(external_id, text)

    def _claim(self, limit: int) -> list[tuple[int, str, str, bool, str, dict[str, object]]]:
        now = self.clock.now()
        with transaction(self.factory) as session:
            # Rows left `sending` by a worker that died go back to the queue.
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == "sending", OutboxMessage.next_attempt_at < now - STUCK_AFTER)
                .values(status="pending")
            )
            rows = session.execute(
                select(
                    OutboxMessage.id,
                    Person.channel,
                    Person.external_id,
                    Person.simulated,
                    OutboxMessage.kind,
                    OutboxMessage.payload,
                )
                .join(Person, Person.id == OutboxMessage.person_id)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=OutboxMessage)
            ).all()
            if rows:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([r.id for r in rows]))
                    .values(status="sending", next_attempt_at=now, attempts=OutboxMessage.attempts + 1)
                )
        return [(r.id, r.channel, r.external_id, r.simulated, r.kind, dict(r.payload)) for r in rows]

    def _finish(self, row_id: int, error: str | None, permanent: bool) -> None:
        now = self.clock.now()
        with transaction(self.factory) as session:
            row = session.get(OutboxMessage, row_id)
            if row is None:
                return
            if error is None:
                row.status, row.sent_at, row.last_error = "sent", now, None
                return
            row.last_error = error
            if permanent or row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
                log.warning("outbox %s to %s failed for good: %s", row_id, mask_id(str(row.person_id)), error)
            else:
                row.status = "pending"
                row.next_attempt_at = now + BACKOFF[min(row.attempts - 1, len(BACKOFF) - 1)]
