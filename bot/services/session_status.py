"""Where a session stands — 已安排, 进行中, 已举行, 已取消 — the one rule that chat, the web admin, the
Excel export, the statistics and the monthly digest all read.

The row holds what people decided: `status` is `scheduled` or `cancelled` (with its reason). Whether a
scheduled session has been held follows from its end time and the clock, so nothing has to flip it
afterwards and nothing can forget to: a session ends, and from that moment every view calls it 已举行.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, and_

from storage.models import ConsultSession

CANCELLED = "cancelled"  # the only decision stored besides `scheduled`


class Phase(StrEnum):
    scheduled = "scheduled"  # not begun
    running = "running"  # begun, not ended
    held = "held"  # ended: counts as a session held
    cancelled = "cancelled"


PHASE_NAMES = {Phase.scheduled: "已安排", Phase.running: "进行中", Phase.held: "已举行", Phase.cancelled: "已取消"}


def phase_of(consult: ConsultSession, now: datetime) -> Phase:
    if consult.status == CANCELLED:
        return Phase.cancelled
    if consult.ends_at <= now:
        return Phase.held
    return Phase.running if consult.starts_at <= now else Phase.scheduled


def name_of(consult: ConsultSession, now: datetime) -> str:
    """已安排 / 进行中 / 已举行 / 已取消."""
    return PHASE_NAMES[phase_of(consult, now)]


def held(now: datetime) -> ColumnElement[bool]:
    """SQL for `phase_of(...) == Phase.held`: not cancelled and ended by `now`."""
    return and_(ConsultSession.status != CANCELLED, ConsultSession.ends_at <= now)


def ahead(now: datetime) -> ColumnElement[bool]:
    """SQL for 已安排 or 进行中: not cancelled and not yet ended."""
    return and_(ConsultSession.status != CANCELLED, ConsultSession.ends_at > now)
