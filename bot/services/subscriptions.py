"""Subscription notifications (订阅通知): who accepted which template, the page where they choose (reached by
a signed link), and which template each kind of message goes as.

WeChat tells us each choice: the popup on our page (subscribe_msg_popup_event: accept or reject per
template), a reject later in WeChat's notification settings (subscribe_msg_change_event), a refusal when we
send (43101). Only the latest answer per person and template is kept. Templates are taken as long-term
subscriptions (长期订阅): an acceptance lasts until taken back; a one-time template answers 43101 on its
second send, which takes it back here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.incoming import EventItem
from bot.services import signed_links
from bot.services.outbox import purpose
from bot.settings import SubscribeTemplate
from storage.models import SubscribeConsent

ACCEPTED, REJECTED = "accepted", "rejected"
CHOICES = {"accept": ACCEPTED, "reject": REJECTED}  # SubscribeStatusString; anything else ("ban") is ignored
# The kinds a person subscribes to, as the page and the bot name them.
KIND_NAMES = {
    "result": "办理结果",
    "followup": "回头看和办理进度",
    "reminder": "会议通知和提醒",
    "notice": "议事室通知",
}
LINK = "subscribe"  # the purpose of the page link's signature


def record_choices(session: Session, *, person_id: int, items: Iterable[EventItem], now: datetime) -> int:
    """A popup answered or a choice changed: keep each template's latest answer. Returns how many were kept."""
    kept = 0
    for item in items:
        status = CHOICES.get(item.status.lower())
        if item.template_id and status is not None:
            set_choice(session, person_id=person_id, template_id=item.template_id, status=status, now=now)
            kept += 1
    return kept


def set_choice(session: Session, *, person_id: int, template_id: str, status: str, now: datetime) -> None:
    row = session.scalars(
        select(SubscribeConsent).where(
            SubscribeConsent.person_id == person_id, SubscribeConsent.template_id == template_id
        )
    ).first()
    if row is None:
        session.add(SubscribeConsent(person_id=person_id, template_id=template_id, status=status, changed_at=now))
        session.flush()
    elif row.status != status:
        row.status, row.changed_at = status, now


def take_back(session: Session, *, person_id: int, template_id: str, now: datetime) -> None:
    """A send refused (43101): the acceptance no longer holds. Updates only (it runs beside the callbacks)."""
    session.execute(
        update(SubscribeConsent)
        .where(
            SubscribeConsent.person_id == person_id,
            SubscribeConsent.template_id == template_id,
            SubscribeConsent.status == ACCEPTED,
        )
        .values(status=REJECTED, changed_at=now)
    )


def accepted(session: Session, *, person_ids: Iterable[int]) -> set[tuple[int, str]]:
    """(person, template) pairs whose latest answer is an acceptance."""
    ids = sorted(set(person_ids))
    found: set[tuple[int, str]] = set()
    for start in range(0, len(ids), 1000):
        rows = session.execute(
            select(SubscribeConsent.person_id, SubscribeConsent.template_id).where(
                SubscribeConsent.person_id.in_(ids[start : start + 1000]), SubscribeConsent.status == ACCEPTED
            )
        )
        found.update((r.person_id, r.template_id) for r in rows)
    return found


def kinds_of(
    session: Session, *, person_id: int, templates: Mapping[str, SubscribeTemplate]
) -> list[tuple[str, SubscribeTemplate, str | None]]:
    """Each configured kind with its template and the person's answer (None: never asked)."""
    answers = dict(
        session.execute(
            select(SubscribeConsent.template_id, SubscribeConsent.status).where(SubscribeConsent.person_id == person_id)
        ).all()
    )
    return [(kind, t, answers.get(t.template_id)) for kind, t in templates.items()]


def template_for(
    templates: Mapping[str, SubscribeTemplate], kind: str, payload: Mapping[str, Any]
) -> SubscribeTemplate | None:
    """The subscription template an outbox row goes as (its purpose's; None when that kind has none)."""
    return templates.get(purpose(kind, payload))


def link(base_url: str, person_id: int, *, secret: str) -> str:
    """The page where this person chooses their notifications: `/subscribe?user=<id>.<signature>`."""
    return f"{base_url.rstrip('/')}/subscribe?user={person_id}.{signed_links.sign(LINK, person_id, secret=secret)}"


def person_in(token: str | None, *, secret: str) -> int | None:
    """The person a page link names, or None when it is not one we signed."""
    head, _, key = (token or "").partition(".")
    if not head.isdigit() or len(head) > 12:
        return None
    person_id = int(head)
    return person_id if signed_links.verify(LINK, person_id, key, secret=secret) else None
