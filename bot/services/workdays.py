"""Working days (工作日) in China: weekends, public holidays and 调休 (a weekend day worked instead).

The calendar is `chinesecalendar` (import `chinese_calendar`), which the State Council's yearly notice
updates; it knows the years it was released with (2004–2026 in 1.11) and raises NotImplementedError
for any other. Beyond its range a day counts as a working day when it is Monday to Friday, and a
warning is logged once per year so the office knows to upgrade the package (docs/clocks.md).

A limit of N working days runs from the day something happened (that day is not counted) to the end
of the Nth working day after it, in the deployment's time zone: filed on Wednesday 2026-09-30 with
5 working days, it is due by the end of Tuesday 2026-10-13 (国庆 1–7 October is off, Saturday 10
October is worked).
"""

from __future__ import annotations

import functools
import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)
_WARNED: set[int] = set()


def is_workday(day: date) -> bool:
    """A working day by the State Council's calendar; Monday to Friday beyond the years it knows."""
    known = _calendar_says(day)
    if known is not None:
        return known
    if day.year not in _WARNED:
        _WARNED.add(day.year)
        log.warning(
            "the holiday calendar has no data for %d: counting Monday to Friday as working days "
            "(upgrade chinesecalendar)",
            day.year,
        )
    return day.weekday() < 5


@functools.lru_cache(maxsize=4096)
def _calendar_says(day: date) -> bool | None:
    """The calendar's answer, or None beyond its years. Cached: every filing counts days forward, and
    the package validates its argument on each call (a tenth of a filing's CPU)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def nth_workday_after(day: date, n: int) -> date:
    """The nth working day after `day` (`day` itself not counted); n = 0 is `day`."""
    current = day
    left = n
    while left > 0:
        current += timedelta(days=1)
        if is_workday(current):
            left -= 1
    return current


def due(start: datetime, workdays: int, tz: str) -> datetime:
    """The end of the `workdays`th working day after `start`'s local date: the next local midnight, aware."""
    zone = ZoneInfo(tz)
    last = nth_workday_after(start.astimezone(zone).date(), workdays)
    return datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)


def last_day(deadline: datetime, tz: str) -> date:
    """The local date a `due` moment closes (the day before its midnight): what people are told."""
    return (deadline.astimezone(ZoneInfo(tz)) - timedelta(microseconds=1)).date()


def between(start: datetime, end: datetime, tz: str) -> int:
    """Working days after `start`'s local date up to and including `end`'s (0 when end is not later)."""
    zone = ZoneInfo(tz)
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    count = 0
    day = first + timedelta(days=1)
    while day <= last:
        count += is_workday(day)
        day += timedelta(days=1)
    return count
