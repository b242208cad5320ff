"""Pure tests: a session's end, typed as a length or a clock time on its day, read after its start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.services.end_time import DEFAULT_LENGTH, parse_end, read_length
from bot.services.timeparse import Ambiguous

TZ = "Asia/Shanghai"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 23 November 2026, 10:00 in Shanghai
START = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # Thursday 3 December 2026, 15:00 in Shanghai
MORNING = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)  # 09:00 the same day


def ends(typed: str, start: datetime = START) -> str:
    result = parse_end(typed, starts_at=start, now=NOW, tz=TZ)
    assert isinstance(result, datetime), result
    return result.astimezone(ZoneInfo(TZ)).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2小时", "2026-12-03 17:00"),
        ("两小时", "2026-12-03 17:00"),
        ("两个小时", "2026-12-03 17:00"),
        ("一个半小时", "2026-12-03 16:30"),
        ("1.5小时", "2026-12-03 16:30"),
        ("半小时", "2026-12-03 15:30"),
        ("2小时30分钟", "2026-12-03 17:30"),
        ("90分钟", "2026-12-03 16:30"),
        ("开3个小时左右", "2026-12-03 18:00"),
        ("２小时", "2026-12-03 17:00"),
        ("下午5点", "2026-12-03 17:00"),
        ("17:30", "2026-12-03 17:30"),
        ("17：30", "2026-12-03 17:30"),
        ("5点半", "2026-12-03 17:30"),  # 05:30 is before the start: the afternoon is meant
        ("到下午5点", "2026-12-03 17:00"),
        ("下午5点结束", "2026-12-03 17:00"),
        ("晚上8点", "2026-12-03 20:00"),
        ("12月3日18:00", "2026-12-03 18:00"),
    ],
)
def test_ends_people_type_are_read(typed: str, expected: str) -> None:
    """A length from the start, or a time of the start's day (the first reading after the start)."""
    assert ends(typed) == expected


def test_an_hour_without_morning_or_afternoon_is_the_first_after_the_start() -> None:
    """After a 09:00 start, 11点 is 11:00 and 8点 is 20:00."""
    assert ends("11点", MORNING) == "2026-12-03 11:00"
    assert ends("8点", MORNING) == "2026-12-03 20:00"


@pytest.mark.parametrize(
    ("typed", "asks"),
    [
        ("上午11点", "要晚于开始时间"),
        ("15:00", "要晚于开始时间"),
        ("3点", "没看懂结束时间"),  # 03:00 and 15:00 are both not after 15:00
        ("20小时", "最长"),
        ("随便", "没看懂结束时间"),
        ("下午", "没看懂结束时间"),
        ("0小时", "要晚于开始时间"),
    ],
)
def test_unclear_or_impossible_ends_get_a_question(typed: str, asks: str) -> None:
    """An end before the start, too long, or unreadable is asked about, never guessed."""
    result = parse_end(typed, starts_at=START, now=NOW, tz=TZ)
    assert isinstance(result, Ambiguous), result
    assert asks in result.question


def test_lengths() -> None:
    """Lengths alone: a clock time is none, and the default is two hours."""
    assert read_length("两个半小时") == timedelta(hours=2, minutes=30)
    assert read_length("45分钟") == timedelta(minutes=45)
    assert read_length("5点") is None and read_length("30分") is None and read_length("小时") is None
    assert timedelta(hours=2) == DEFAULT_LENGTH
