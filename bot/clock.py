"""Time comes from a clock object, so every timed behaviour is testable without sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment


def local(moment: datetime, tz: str = "Asia/Shanghai") -> datetime:
    return moment.astimezone(ZoneInfo(tz))


def fmt_local(moment: datetime, tz: str = "Asia/Shanghai") -> str:
    """`2026年11月23日 10:00` in the deployment's time zone."""
    when = local(moment, tz)
    return f"{when.year}年{when.month}月{when.day}日 {when:%H:%M}"
