"""Working days count China's holidays and 调休, and fall back to Monday–Friday beyond the calendar's years."""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.services import clocks, workdays
from bot.services.list_parse import parse_deadline

TZ = "Asia/Shanghai"
SH = ZoneInfo(TZ)


def test_national_day_with_its_saturday_worked() -> None:
    """Filed the day before 国庆 2026, five working days end on 13 October: 10 October (a Saturday) is worked."""
    filed = datetime(2026, 9, 30, 10, 0, tzinfo=SH)
    due = workdays.due(filed, 5, TZ)
    assert due == datetime(2026, 10, 14, 0, 0, tzinfo=SH)
    assert workdays.last_day(due, TZ) == date(2026, 10, 13)
    assert clocks.day_label(due, TZ) == "2026年10月13日"
    assert workdays.is_workday(date(2026, 10, 10)) and not workdays.is_workday(date(2026, 10, 5))


def test_spring_festival_with_both_saturdays_worked() -> None:
    """春节 2026 is 15–23 February off, with Saturdays 14 and 28 February worked."""
    friday = datetime(2026, 2, 13, 9, 0, tzinfo=SH)
    assert workdays.nth_workday_after(date(2026, 2, 13), 1) == date(2026, 2, 14)  # 调休 Saturday
    assert workdays.nth_workday_after(date(2026, 2, 13), 2) == date(2026, 2, 24)  # back after the holiday
    assert workdays.between(friday, datetime(2026, 3, 1, 9, 0, tzinfo=SH), TZ) == 6  # 14, 24, 25, 26, 27, 28


def test_between_and_late_days() -> None:
    """Counting runs after the first day up to and including the last; lateness counts from the limit's last day."""
    due = workdays.due(datetime(2026, 9, 30, 10, 0, tzinfo=SH), 5, TZ)
    assert workdays.between(due, due, TZ) == 0
    assert clocks.late_workdays(due, now=datetime(2026, 10, 14, 9, 0, tzinfo=SH), tz=TZ) == 1
    assert clocks.late_workdays(due, now=datetime(2026, 10, 21, 9, 0, tzinfo=SH), tz=TZ) == 6


def test_local_date_decides_not_utc() -> None:
    """Early morning in Shanghai is still the previous day in UTC: the local day is the one that counts."""
    early = datetime(2026, 9, 30, 1, 0, tzinfo=SH)  # 2026-09-29 17:00 UTC
    assert workdays.due(early, 1, TZ) == datetime(2026, 10, 9, 0, 0, tzinfo=SH)


def test_beyond_the_calendar_monday_to_friday_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A year the package does not know counts Monday to Friday and says so once in the log."""
    workdays._WARNED.discard(2099)
    with caplog.at_level(logging.WARNING, logger="bot.services.workdays"):
        assert workdays.is_workday(date(2099, 1, 2))  # a Friday
        assert not workdays.is_workday(date(2099, 1, 3))  # a Saturday
    warnings = [r for r in caplog.records if "2099" in r.getMessage()]
    assert len(warnings) == 1


def test_a_responsibility_deadline_in_working_days() -> None:
    """「10个工作日」 in a responsibility list is the 10th working day after today, holidays and 调休 counted."""
    assert parse_deadline("5个工作日", today=date(2026, 9, 30)) == date(2026, 10, 13)
    assert parse_deadline("10 工作日内", today=date(2026, 2, 13)) == date(2026, 3, 5)  # 14 and 28 February are worked
    assert parse_deadline("0个工作日", today=date(2026, 2, 13)) is None
