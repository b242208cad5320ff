"""One message, one transaction: claim it (deduplicate), find the person, dispatch, store the reply.

The claim row and every change the message causes commit together. A duplicate delivery — WeChat
retries, or the same message arriving three times at once — blocks on the claim's unique key until
the first commits, then reads and returns the very same reply.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.context import Ctx, Services
from bot.dispatch import dispatch
from bot.incoming import Incoming
from bot.metrics import HANDLE_SECONDS, MESSAGES
from bot.services import outbox, people
from bot.services.privacy import mask_id
from storage.db import transaction
from storage.models import ProcessedMessage

log = logging.getLogger(__name__)

NO_REPLY = ""
ERROR_REPLY = "抱歉，系统刚才开了个小差，您的消息没有处理成功，请稍后再发一次。"


@dataclass(frozen=True)
class Outcome:
    reply: str  # "" means no passive reply
    duplicate: bool = False
    delivered_async: bool = False


class Pipeline:
    def __init__(self, factory: sessionmaker[Session], services: Services) -> None:
        self.factory = factory
        self.services = services

    def handle(self, msg: Incoming) -> Outcome:
        """Process a message exactly once and return the reply it gets (every time it is asked)."""
        started = time.perf_counter()
        try:
            with transaction(self.factory) as session:
                claim = ProcessedMessage(
                    channel=msg.channel, dedup_key=msg.dedup_key[:200], created_at=self.services.clock.now()
                )
                session.add(claim)
                session.flush()
                reply = self._dispatch(session, msg, claim)
                claim.reply = reply
        except IntegrityError:
            MESSAGES.labels(msg.channel, msg.kind, "duplicate").inc()
            return self._previous(msg)
        elapsed = time.perf_counter() - started
        MESSAGES.labels(msg.channel, msg.kind, "handled").inc()
        HANDLE_SECONDS.labels(msg.channel).observe(elapsed)
        log.debug("handled %s from %s in %.1f ms", msg.kind, mask_id(msg.user), (time.perf_counter() - started) * 1000)
        return Outcome(reply)

    def _dispatch(self, session: Session, msg: Incoming, claim: ProcessedMessage) -> str:
        now = self.services.clock.now()
        person = people.get_or_create(session, channel=msg.channel, external_id=msg.user, simulated=msg.simulated)
        claim.person_id = person.id
        if msg.kind != "event" or msg.event in {"click", "subscribe", "enter_agent"}:
            people.touch_inbound(person, now=now)
        replies = dispatch(Ctx(session=session, person=person, msg=msg, now=now, services=self.services))
        return "\n\n".join(r for r in replies if r)

    def _previous(self, msg: Incoming) -> Outcome:
        with self.factory() as session:
            row = session.scalars(
                select(ProcessedMessage).where(
                    ProcessedMessage.channel == msg.channel, ProcessedMessage.dedup_key == msg.dedup_key[:200]
                )
            ).first()
        if row is None:  # the unique violation was about something else; let the caller see an error
            raise RuntimeError("duplicate claim vanished")
        if row.delivered_async:
            return Outcome(NO_REPLY, duplicate=True, delivered_async=True)
        return Outcome(row.reply or NO_REPLY, duplicate=True)

    def deliver_late(self, msg: Incoming, reply: str) -> None:
        """The passive reply missed WeChat's deadline: send it through the outbox instead."""
        if not reply:
            return
        with transaction(self.factory) as session:
            row = session.scalars(
                select(ProcessedMessage).where(
                    ProcessedMessage.channel == msg.channel, ProcessedMessage.dedup_key == msg.dedup_key[:200]
                )
            ).first()
            if row is None or row.person_id is None or row.delivered_async:
                return
            row.delivered_async = True
            outbox.enqueue_text(
                session, person_id=row.person_id, text=reply, key=f"late:{row.id}", now=self.services.clock.now()
            )
        log.info("reply to %s was late; queued for the customer-service API", mask_id(msg.user))
