"""The ways a message reaches an official-account user, tried in the order of WECHAT_DELIVERY_ORDER
(default: custom, subscribe, template); the first that takes the row wins.

- custom: a customer-service message, only while the 48-hour window is open: their last message
  (`Person.last_inbound_at`) is under 48 h old and fewer than 5 customer-service messages went to
  them since (rows with via='custom', status='sent', sent_at >= last_inbound_at). 45015/45047 (window
  closed / count used up) moves on to the next way. (The 3-in-1-minute allowance after a menu click is
  not used.) Two workers sending to the same person at once may both see 4 used; the API's 45047 then
  moves the 6th on.
- subscribe: a subscription message (订阅通知, `bizsend`) with the template WECHAT_SUBSCRIBE_TEMPLATES
  names for the row's purpose (bot/services/outbox.py `purpose`), only if the person's latest answer for
  that template is an acceptance (subscribe_consents). 43101 (refused: taken back, or a one-time
  subscription used up) records the refusal; it and a configuration error (40037, 47003, 41030) move on.
- template: the purpose's template (WECHAT_TEMPLATE_RESULT / _REMINDER / _FOLLOWUP; notices use the result
  template).
Their data comes from scheduler/message_data.py. When no way takes the row it raises `Unreachable` with
every reason (距对方最后一条消息已超过48小时；对方未开启「办理结果」服务通知；未配置模板消息…): the worker ends
it `undelivered`, never dropped silently, never retried; a result still waits in 我的. A template or
subscription message stays `sent`, with the msgid WeChat answered, until WeChat's report
(bot/services/delivery.py) makes it delivered, blocked or failed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.outbound.api import ApiError, WeChatApi
from bot.services import delivery, subscriptions
from bot.services.outbox import SENT, purpose
from scheduler.message_data import subscription_data, template_data
from storage.db import transaction
from storage.models import OutboxMessage, Person


class Job(Protocol):
    """What a way out reads of a claimed row (scheduler/outbox.py's Job)."""

    @property
    def person_id(self) -> int: ...
    @property
    def external_id(self) -> str: ...
    @property
    def last_inbound_at(self) -> datetime | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def text(self) -> str: ...


CUSTOM_WINDOW = timedelta(hours=48)
CUSTOM_LIMIT = 5
WINDOW_CLOSED = frozenset({45015, 45047})  # customer-service window closed or its 5 messages used
# A subscription send refused for this person or this configuration: the next way out is tried.
SUBSCRIPTION_REFUSED = frozenset({43101, 40037, 47003, 41030})
NO_TEMPLATE = "未配置模板消息，无法在48小时外通知"

Sent = tuple[str, str | None]  # how it went out, and the msgid WeChat answered


class Unreachable(Exception):
    """No way out the order allows reaches this person now: the row ends undelivered, saying why."""


class WeChatWays:
    """The ways out for one pass's official-account rows (what they need is looked up once per pass)."""

    def __init__(self, factory: sessionmaker[Session], clock: Clock, wechat: WeChatApi, jobs: Sequence[Job]) -> None:
        self.factory = factory
        self.clock = clock
        self.wechat = wechat
        self.used = self._custom_used(jobs)
        self.accepted = self._accepted(jobs)

    def deliver(self, job: Job) -> Sent:
        """Send one row the first way the order allows."""
        why: list[str] = []
        for route in self.wechat.delivery_order:
            if route == "custom":
                sent = self._by_custom(job, why)
            elif route == "subscribe":
                sent = self._by_subscription(job, why)
            else:
                sent = self._by_template(job, why)
            if sent is not None:
                return sent
        raise Unreachable("；".join(why) or "没有可用的发送方式")

    def _by_custom(self, job: Job, why: list[str]) -> Sent | None:
        inbound = job.last_inbound_at
        if inbound is None or self.clock.now() - inbound >= CUSTOM_WINDOW:
            why.append("距对方最后一条消息已超过48小时")
            return None
        if self.used[job.person_id] >= CUSTOM_LIMIT:
            why.append("48小时内客服消息已用满5条")
            return None
        try:
            self.wechat.send_text(job.external_id, job.text)
        except ApiError as exc:
            if exc.code not in WINDOW_CLOSED:
                raise
            self.used[job.person_id] = CUSTOM_LIMIT  # no more customer-service tries for them in this pass
            why.append(f"客服消息被拒 {exc}")
            return None
        self.used[job.person_id] += 1
        return "custom", None

    def _by_subscription(self, job: Job, why: list[str]) -> Sent | None:
        template = subscriptions.template_for(self.wechat.subscriptions, job.kind, job.payload)
        if template is None:
            return None  # this kind has no subscription template: nothing to say about it
        kind = purpose(job.kind, job.payload)
        name = subscriptions.KIND_NAMES[kind]
        if (job.person_id, template.template_id) not in self.accepted:
            why.append(f"对方未开启「{name}」服务通知")
            return None
        data = subscription_data(kind, job.payload, template.keys)
        try:
            msgid = self.wechat.send_subscription(job.external_id, template.template_id, data)
        except ApiError as exc:
            if exc.code not in SUBSCRIPTION_REFUSED:
                raise
            if exc.code == delivery.REFUSED:  # taken back, or a one-time subscription used up
                self.accepted.discard((job.person_id, template.template_id))
                with transaction(self.factory) as session:
                    subscriptions.take_back(
                        session, person_id=job.person_id, template_id=template.template_id, now=self.clock.now()
                    )
            why.append(f"「{name}」服务通知被拒 {exc}")
            return None
        return "subscribe", msgid

    def _by_template(self, job: Job, why: list[str]) -> Sent | None:
        kind = purpose(job.kind, job.payload)
        template_id = self.wechat.templates.get(kind, "")
        if not template_id:
            why.append(NO_TEMPLATE)
            return None
        return "template", self.wechat.send_template(job.external_id, template_id, template_data(kind, job.payload))

    def _accepted(self, jobs: Sequence[Job]) -> set[tuple[int, str]]:
        """Subscriptions the people of these rows accepted (none looked up when none are configured)."""
        if not self.wechat.subscriptions or "subscribe" not in self.wechat.delivery_order:
            return set()
        with self.factory() as session:
            return subscriptions.accepted(session, person_ids=[j.person_id for j in jobs])

    def _custom_used(self, jobs: Sequence[Job]) -> defaultdict[int, int]:
        """Customer-service messages sent to each person since their last message."""
        used: defaultdict[int, int] = defaultdict(int)
        horizon = self.clock.now() - CUSTOM_WINDOW
        ids = sorted({j.person_id for j in jobs if j.last_inbound_at is not None and j.last_inbound_at > horizon})
        with self.factory() as session:
            for start in range(0, len(ids), 1000):
                rows = session.execute(
                    select(OutboxMessage.person_id, func.count())
                    .join(Person, Person.id == OutboxMessage.person_id)
                    .where(
                        OutboxMessage.person_id.in_(ids[start : start + 1000]),
                        OutboxMessage.via == "custom",
                        OutboxMessage.status == SENT,
                        OutboxMessage.sent_at >= Person.last_inbound_at,
                    )
                    .group_by(OutboxMessage.person_id)
                )
                used.update({person_id: count for person_id, count in rows})
        return used
