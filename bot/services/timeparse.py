"""Reading a session time as convenors type it: `2026-12-03 15:00`, `12月3日下午3点`, `明天上午9点`,
`下周二14:30`, `3号下午3点` ... in the deployment's time zone, relative to a given `now`.

Pure functions. What cannot be read with certainty is never guessed: the answer is an `Ambiguous`
carrying the question to ask (which day? 凌晨还是下午? that time has passed).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Ambiguous:
    question: str
    partial: bool = False  # something is missing (the day, the hour, 上午/下午): a short answer can complete it


EXAMPLES = "例如「12月3日下午3点」「明天上午9点」「下周二14:30」「2026-12-03 15:00」"
RECENT_PAST = timedelta(days=31)  # a month-day this far back is a mistake, not next year's date

_CN = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUM = r"(\d{1,2}|[零〇一二两三四五六七八九十]{1,3})"
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_WEEKDAY_NAMES = "一二三四五六日"

_ISO = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_MONTH_DAY = re.compile(_NUM + r"\s*月\s*" + _NUM + r"\s*[日号]?")
_SLASH_DAY = re.compile(r"(?<![\d:])(\d{1,2})\s*/\s*(\d{1,2})(?![\d:])")
_DAY_ONLY = re.compile(_NUM + r"\s*[日号]")
_RELATIVE = re.compile(r"大后天|后天|明天|明日|今天|今日|明晚|今晚|明早|今早")
_WEEK = re.compile(r"(下下个?|下个?|这个?|本)?\s*(?:周|星期|礼拜)\s*([一二三四五六日天七1-7])")
_CLOCK = re.compile(r"(\d{1,2})\s*[:：]\s*(\d{2})")
_HOUR = re.compile(_NUM + r"\s*[点點时時]\s*(半|一刻|三刻|" + _NUM + r"\s*分?)?")
_PERIOD = re.compile(r"凌晨|早上|早晨|清晨|上午|中午|下午|傍晚|晚上|夜里|夜间|晚间|晚")

_RELATIVE_DAYS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3}
_RELATIVE_WITH_PERIOD = {"今晚": (0, "晚上"), "明晚": (1, "晚上"), "明早": (1, "早上"), "今早": (0, "早上")}


def cn_number(text: str) -> int | None:
    """`12`, `十二`, `二十三`, `两`, `零五` -> int (up to 99)."""
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _CN and ch != "十" for ch in text):
        return None
    if "十" not in text:
        value = 0
        for ch in text:
            value = value * 10 + _CN[ch]
        return value
    tens, _, units = text.partition("十")
    if len(tens) > 1 or len(units) > 1:
        return None
    return (_CN[tens] if tens else 1) * 10 + (_CN[units] if units else 0)


@dataclass
class _Parts:
    day: date | None = None
    weekday: int | None = None
    hour: int | None = None
    minute: int = 0
    colon: bool = False  # 15:00 is a 24-hour clock; 3点 is not
    period: str | None = None
    past_day: bool = False


def parse_when(
    text: str, *, now: datetime, tz: str, on: date | None = None, after: datetime | None = None
) -> datetime | Ambiguous:
    """An aware UTC datetime for what was typed, or the question that would settle it.

    For a session's end (bot/services/end_time.py): `on` is the day when none is typed, and an hour
    without 上午/下午 is read as the first of its two readings later than `after`.
    """
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    rest = unicodedata.normalize("NFKC", text).strip()
    if not rest:
        return Ambiguous(f"请告诉我协商的日期和时间，{EXAMPLES}。")
    parts = _Parts()
    try:
        rest = _read_day(rest, parts, today)
    except ValueError:
        return Ambiguous(f"日期不对（没有这一天）。请重新输入，{EXAMPLES}。")
    rest = _read_period(rest, parts)
    rest = _read_time(rest, parts)
    if re.search(r"[\d零〇一二两三四五六七八九十]", rest):
        return Ambiguous(f"没看懂这个时间。请写清楚日期和几点，{EXAMPLES}。")
    if parts.day is None and parts.hour is None and parts.period is None:
        return Ambiguous(f"没看懂这个时间。请写清楚日期和几点，{EXAMPLES}。")
    if parts.day is None and on is not None:
        parts.day = on
    if parts.day is None:
        return Ambiguous("是哪一天？请连同日期一起说，例如「明天下午3点」「12月3日15:00」。", partial=True)
    if parts.hour is None:
        period = parts.period or ""
        return Ambiguous(
            f"{_day_text(parts.day)}{period}几点开始？请写上时间，例如「{_day_text(parts.day)}下午3点」。", partial=True
        )
    hour = _to_24h(parts)
    if isinstance(hour, Ambiguous) and after is not None and parts.period is None:
        hour = _first_after(parts, after, zone) or hour
    if isinstance(hour, Ambiguous):
        return hour
    if not (0 <= hour <= 23 and 0 <= parts.minute <= 59):
        return Ambiguous(f"时间不对（{parts.hour}点{parts.minute}分）。请重新输入，{EXAMPLES}。")
    local = datetime.combine(parts.day, time(hour, parts.minute), tzinfo=zone)
    if parts.weekday is not None and parts.day.weekday() != parts.weekday:
        actual = _WEEKDAY_NAMES[parts.day.weekday()]
        return Ambiguous(
            f"{_day_text(parts.day)}是星期{actual}，不是星期{_WEEKDAY_NAMES[parts.weekday]}。请核对后再发一次。"
        )
    when = local.astimezone(UTC)
    if parts.past_day or when <= now:
        shown = f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
        return Ambiguous(f"{shown} 已经过去了。请给一个将来的时间，{EXAMPLES}。")
    return when


def _first_after(parts: _Parts, after: datetime, zone: ZoneInfo) -> int | None:
    """Of the two readings of an hour without 上午/下午 (5点: 05:00, 17:00), the first later than `after`."""
    assert parts.day is not None and parts.hour is not None
    if not (1 <= parts.hour <= 12 and 0 <= parts.minute <= 59):
        return None
    for hour in (parts.hour % 12, parts.hour % 12 + 12):
        if datetime.combine(parts.day, time(hour, parts.minute), tzinfo=zone) > after:
            return hour
    return None


def _day_text(day: date) -> str:
    return f"{day.month}月{day.day}日"


def _cut(text: str, match: re.Match[str]) -> str:
    return text[: match.start()] + " " + text[match.end() :]


def _read_day(text: str, parts: _Parts, today: date) -> str:
    # Explicit dates first: in `12月3日周四` the weekday only checks the date.
    if (m := _ISO.search(text)) is not None:
        parts.day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        parts.past_day = parts.day < today
        return _read_weekday_note(_cut(text, m), parts)
    m = _MONTH_DAY.search(text) or _SLASH_DAY.search(text)
    if m is not None:
        month, day = cn_number(m.group(1)), cn_number(m.group(2))
        if month is None or day is None:
            raise ValueError("unreadable month or day")
        parts.day = _nearest_month_day(today, month, day, parts)
        return _read_weekday_note(_cut(text, m), parts)
    if (m := _RELATIVE.search(text)) is not None:
        word = m.group(0)
        if word in _RELATIVE_WITH_PERIOD:
            offset, period = _RELATIVE_WITH_PERIOD[word]
            parts.period = period
        else:
            offset = _RELATIVE_DAYS[word]
        parts.day = today + timedelta(days=offset)
        return _cut(text, m)
    if (m := _WEEK.search(text)) is not None:
        prefix, name = m.group(1) or "", m.group(2)
        target = int(name) - 1 if name.isdigit() else _WEEKDAYS[name]
        monday = today - timedelta(days=today.weekday())
        if prefix.startswith("下下"):
            parts.day = monday + timedelta(weeks=2, days=target)
        elif prefix.startswith("下"):
            parts.day = monday + timedelta(weeks=1, days=target)
        elif prefix:  # 这周 / 本周: this calendar week, even if that day has passed
            parts.day = monday + timedelta(days=target)
            parts.past_day = parts.day < today
        else:  # 周五: the coming one (today counts)
            parts.day = today + timedelta(days=(target - today.weekday()) % 7)
        return _cut(text, m)
    if (m := _DAY_ONLY.search(text)) is not None:
        day = cn_number(m.group(1))
        if day is None:
            raise ValueError("unreadable day")
        parts.day = _nearest_day_of_month(today, day)
        return _read_weekday_note(_cut(text, m), parts)
    return text


def _read_weekday_note(text: str, parts: _Parts) -> str:
    """`12月3日（周四）`: the weekday is a check on the date, not another date."""
    m = re.search(r"(?:周|星期|礼拜)\s*([一二三四五六日天七1-7])", text)
    if m is None:
        return text
    name = m.group(1)
    parts.weekday = int(name) - 1 if name.isdigit() else _WEEKDAYS[name]
    return _cut(text, m)


def _nearest_month_day(today: date, month: int, day: int, parts: _Parts) -> date:
    this_year = date(today.year, month, day)
    if this_year >= today:
        return this_year
    if today - this_year <= RECENT_PAST:
        parts.past_day = True
        return this_year
    return date(today.year + 1, month, day)


def _nearest_day_of_month(today: date, day: int) -> date:
    """`3号`: this month's 3rd if still ahead (or today), else next month's."""
    if day >= today.day:
        return date(today.year, today.month, day)
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return date(year, month, day)


def _read_period(text: str, parts: _Parts) -> str:
    m = _PERIOD.search(text)
    if m is None:
        return text
    parts.period = m.group(0)
    return _cut(text, m)


def _read_time(text: str, parts: _Parts) -> str:
    if (m := _CLOCK.search(text)) is not None:
        parts.hour, parts.minute, parts.colon = int(m.group(1)), int(m.group(2)), True
        return _cut(text, m)
    if (m := _HOUR.search(text)) is not None:
        parts.hour = cn_number(m.group(1))
        tail = m.group(2) or ""
        if tail == "半":
            parts.minute = 30
        elif tail == "一刻":
            parts.minute = 15
        elif tail == "三刻":
            parts.minute = 45
        elif m.group(3):
            parts.minute = cn_number(m.group(3)) or 0
        return _cut(text, m)
    return text


_MORNING = ("凌晨", "早上", "早晨", "清晨", "上午")
_EVENING = ("下午", "傍晚", "晚上", "夜里", "夜间", "晚间", "晚")


def _to_24h(parts: _Parts) -> int | Ambiguous:
    hour = parts.hour
    assert hour is not None
    period = parts.period
    if period is None:
        if parts.colon or hour == 0 or hour >= 13:
            return hour
        return Ambiguous(_which_half(hour), partial=True)
    if hour > 12:
        if period in _MORNING or period == "凌晨":
            return Ambiguous(f"「{period}{hour}点」对不上。请重新输入，例如「{period}9点」或「下午3点」。")
        return hour
    if period == "凌晨":
        return 0 if hour == 12 else hour if hour <= 6 else Ambiguous(_which_half(hour), partial=True)
    if period in _MORNING:
        return hour
    if period == "中午":
        return hour + 12 if hour <= 3 else hour
    if period in ("下午", "傍晚"):
        return hour if hour == 12 else hour + 12
    # 晚上: 7点 is 19:00; 晚上12点 or 晚上2点 is past midnight and belongs to the next day's date.
    if 5 <= hour <= 11:
        return hour + 12
    assert parts.day is not None
    example = f"{_day_text(parts.day + timedelta(days=1))}凌晨{hour % 12}点"
    return Ambiguous(f"「{period}{hour}点」已是第二天凌晨。请写上第二天的日期，例如「{example}」。")


def _which_half(hour: int) -> str:
    if hour == 12:
        return "是中午12点还是夜里12点？请说「中午12点」，或写成24小时制，如「12:00」。"
    morning = "凌晨" if hour < 6 else "上午"
    evening = "下午" if hour < 6 else "晚上"
    return f"是{morning}{hour}点还是{evening}{hour}点？请加上「上午」「下午」等，或写成24小时制，如「{hour + 12}:00」。"
