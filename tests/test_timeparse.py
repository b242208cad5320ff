"""Pure tests: session times typed in Chinese or digits are read in Asia/Shanghai, or questioned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.services.timeparse import Ambiguous, cn_number, parse_when

TZ = "Asia/Shanghai"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 23 November 2026, 10:00 in Shanghai


def local(text: str) -> str:
    result = parse_when(text, now=NOW, tz=TZ)
    assert isinstance(result, datetime), result
    assert result.utcoffset() == timedelta(0)
    return result.astimezone(ZoneInfo(TZ)).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-12-03 15:00", "2026-12-03 15:00"),
        ("2026/12/3 15:00", "2026-12-03 15:00"),
        ("2026.12.3 9:05", "2026-12-03 09:05"),
        ("2026年12月3日 15:00", "2026-12-03 15:00"),
        ("12月3日下午3点", "2026-12-03 15:00"),
        ("12月3号下午3点", "2026-12-03 15:00"),
        ("12月3日15:30", "2026-12-03 15:30"),
        ("12月3日 15：30", "2026-12-03 15:30"),
        ("１２月３日１５:３０", "2026-12-03 15:30"),
        ("十二月三日下午三点十五分", "2026-12-03 15:15"),
        ("12/3 15:00", "2026-12-03 15:00"),
        ("明天上午9点", "2026-11-24 09:00"),
        ("明天 上午 9 点", "2026-11-24 09:00"),
        ("明日下午2点", "2026-11-24 14:00"),
        ("明晚8点", "2026-11-24 20:00"),
        ("后天晚上7点半", "2026-11-25 19:30"),
        ("大后天上午10点一刻", "2026-11-26 10:15"),
        ("今天下午3点三刻", "2026-11-23 15:45"),
        ("今天14:00", "2026-11-23 14:00"),
        ("下周二14:30", "2026-12-01 14:30"),
        ("下星期二下午2点半", "2026-12-01 14:30"),
        ("下个礼拜三上午9点", "2026-12-02 09:00"),
        ("下下周一9:00", "2026-12-07 09:00"),
        ("周五下午两点", "2026-11-27 14:00"),
        ("星期日上午9点", "2026-11-29 09:00"),
        ("周一下午3点", "2026-11-23 15:00"),
        ("3号下午3点", "2026-12-03 15:00"),
        ("25号下午3点", "2026-11-25 15:00"),
        ("12月3日周四下午3点", "2026-12-03 15:00"),
        ("1月5日 9:00", "2027-01-05 09:00"),
        ("中午12点 明天", "2026-11-24 12:00"),
        ("明天中午1点", "2026-11-24 13:00"),
        ("明天凌晨5点", "2026-11-24 05:00"),
        ("明天下午15点", "2026-11-24 15:00"),
        ("明天下午3点在会议室", "2026-11-24 15:00"),
        ("明天0点", "2026-11-24 00:00"),
    ],
)
def test_times_people_type_are_read(typed: str, expected: str) -> None:
    """Each way of writing a session time gives the local time meant, as aware UTC."""
    assert local(typed) == expected


@pytest.mark.parametrize(
    ("typed", "asks"),
    [
        ("3点", "哪一天"),
        ("下午3点", "哪一天"),
        ("下午", "哪一天"),
        ("明天下午", "下午几点"),
        ("12月3日", "几点"),
        ("12月3日3点", "凌晨3点还是下午3点"),
        ("明天9点", "上午9点还是晚上9点"),
        ("明天12点", "中午12点还是夜里12点"),
        ("11月20日下午3点", "已经过去"),
        ("2026-11-01 15:00", "已经过去"),
        ("今天上午9点", "已经过去"),
        ("这周一上午9点", "已经过去"),
        ("2月30日9:00", "没有这一天"),
        ("12月3日周五下午3点", "是星期四"),
        ("上午15点 明天", "对不上"),
        ("后天晚上12点", "第二天"),
        ("明天25:00", "时间不对"),
        ("随便什么时候", "没看懂"),
        ("", "日期和时间"),
        ("12月3日下午3点 和 5点", "没看懂"),
    ],
)
def test_unclear_times_get_a_question(typed: str, asks: str) -> None:
    """What is missing, contradictory, past or unreadable is asked about, never guessed."""
    result = parse_when(typed, now=NOW, tz=TZ)
    assert isinstance(result, Ambiguous), result
    assert asks in result.question


def test_combining_the_answer_with_the_question_settles_it() -> None:
    """Answering 「下午」 to 凌晨还是下午 and appending it to what was typed gives the time."""
    assert isinstance(parse_when("12月3日3点", now=NOW, tz=TZ), Ambiguous)
    assert local("12月3日3点 下午") == "2026-12-03 15:00"


@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12), ("十", 10), ("十二", 12), ("二十三", 23), ("两", 2), ("零五", 5), ("三十", 30), ("乱", None)],
)
def test_chinese_numbers(text: str, value: int | None) -> None:
    """Chinese numerals up to the minutes of an hour are read as numbers."""
    assert cn_number(text) == value


@pytest.mark.parametrize(
    ("typed", "partial"),
    [("3点", True), ("明天下午", True), ("12月3日3点", True), ("11月20日下午3点", False), ("乱写", False)],
)
def test_missing_parts_are_marked_completable(typed: str, partial: bool) -> None:
    """A missing day, hour or 上午/下午 can be completed by a short answer; a past or unreadable time cannot."""
    result = parse_when(typed, now=NOW, tz=TZ)
    assert isinstance(result, Ambiguous) and result.partial is partial
