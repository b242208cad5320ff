"""Simulated people, shared by the web simulator and the terminal chat: their messages and their inbox.

A simulated person is an ordinary `Person` with `simulated=True` and an external id starting with
`sim-`; the outbox worker marks what is queued for them as sent without calling any API. `simulated`
is part of a person's key: the simulator never finds a real person, even one whose WeCom UserID
starts with `sim-`, and a callback never finds a simulated one.
"""

from __future__ import annotations

import threading
import time
import unicodedata
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.incoming import Incoming
from storage.models import OutboxMessage, Person

PREFIX = "sim-"
ACCOUNT = "gh_simulator"
CHANNELS = ("wechat", "wecom")
MAX_NAME_CHARS = 32
MAX_TEXT_CHARS = 2000
INBOX_LIMIT = 50
MENU_KEYS = {"提议题": "PROPOSE", "微建言": "SUGGEST", "我的": "MINE"}
# The fake photo and location: a reserved, unresolvable host, and a fixed spot with a label.
FAKE_PHOTO_URL = "https://simulator.invalid/photo.jpg"
FAKE_LOCATION = (31.2304, 121.4737, "幸福路12号门口")

Kind = Literal["text", "image", "location", "click"]

_last_ns = 0
_ns_lock = threading.Lock()


def clean_name(name: str) -> str:
    """The name trimmed; ValueError (in Chinese) if empty, too long or holding control characters."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise ValueError(f"用户名需为 1 到 {MAX_NAME_CHARS} 个字")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ValueError("用户名不能包含控制字符")
    return name


def external_id_for(name: str) -> str:
    """`王阿姨` -> `sim-王阿姨`; a name already starting with `sim-` is kept as it is."""
    name = name.strip()
    return name if name.startswith(PREFIX) else PREFIX + name


def _unique_ns() -> int:
    """A nanosecond timestamp never handed out twice by this process (events deduplicate on it)."""
    global _last_ns
    with _ns_lock:
        _last_ns = max(time.time_ns(), _last_ns + 1)
        return _last_ns


def make_incoming(*, name: str, channel: str, kind: Kind, text: str = "", key: str = "") -> Incoming:
    """What a real callback would carry for this simulated person's message or menu click."""
    base = Incoming(channel=channel, user=external_id_for(name), kind=kind, account=ACCOUNT, simulated=True)
    if kind == "click":
        # Events have no MsgId: WeChat deduplicates them on sender + CreateTime + event + key.
        return replace(base, kind="event", event="click", event_key=key, create_time=_unique_ns())
    msg_id = uuid.uuid4().hex
    base = replace(base, msg_id=msg_id, create_time=int(time.time()))
    if kind == "image":
        return replace(base, pic_url=FAKE_PHOTO_URL, media_id=f"sim-media-{msg_id}")
    if kind == "location":
        lat, lng, label = FAKE_LOCATION
        return replace(base, latitude=lat, longitude=lng, label=label)
    return replace(base, text=text)


@dataclass(frozen=True)
class InboxItem:
    id: int
    text: str
    status: str
    created_at: datetime


def inbox(session: Session, *, channel: str, external_id: str, after: int = 0) -> list[InboxItem]:
    """Outbox rows for one simulated person with id > `after`, oldest first, at most 50."""
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.payload, OutboxMessage.status, OutboxMessage.created_at)
        .join(Person, Person.id == OutboxMessage.person_id)
        .where(
            Person.channel == channel,
            Person.external_id == external_id,
            Person.simulated.is_(True),
            OutboxMessage.id > after,
        )
        .order_by(OutboxMessage.id)
        .limit(INBOX_LIMIT)
    ).all()
    return [InboxItem(r.id, str((r.payload or {}).get("text", "")), r.status, r.created_at) for r in rows]


def last_inbox_id(session: Session, *, channel: str, external_id: str) -> int:
    """The newest outbox row id of one simulated person (0 if none): where to start showing new ones."""
    found = session.scalar(
        select(func.max(OutboxMessage.id))
        .join(Person, Person.id == OutboxMessage.person_id)
        .where(Person.channel == channel, Person.external_id == external_id, Person.simulated.is_(True))
    )
    return int(found or 0)


@dataclass(frozen=True)
class SimulatedUser:
    external_id: str
    channel: str
    display_name: str | None


def simulated_users(session: Session, *, limit: int = 200) -> list[SimulatedUser]:
    """Every simulated person (demo users and those the simulator has met), oldest first."""
    rows = session.execute(
        select(Person.external_id, Person.channel, Person.display_name)
        .where(Person.simulated.is_(True))
        .order_by(Person.id)
        .limit(limit)
    ).all()
    return [SimulatedUser(r.external_id, r.channel, r.display_name) for r in rows]
