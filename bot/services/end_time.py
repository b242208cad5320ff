"""Reading when a session ends, as convenors type it: how long it lasts (`2小时`, `一个半小时`,
`90分钟`) or when it is over (`下午5点`, `17:30`, `5点半`), on the start's day unless a day is written.

A clock time is read by `timeparse.parse_when`; an hour without 上午/下午 is the first of its readings
after the start (5点 after a 15:00 start is 17:00). What cannot be read, ends before the start or runs
longer than MAX_LENGTH is asked about, never guessed.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta

from bot.clock import local
from bot.services.timeparse import Ambiguous, cn_number, parse_when

DEFAULT_LENGTH = timedelta(hours=2)  # a session's length when the convenor does not say
MAX_LENGTH = timedelta(hours=12)
EXAMPLES = "如「下午5点」「17:30」，或开多久，如「2小时」「一个半小时」"

_CN = r"\d+(?:\.\d+)?|[零〇一二两三四五六七八九十]{1,3}"
_LENGTH = re.compile(
    rf"(?:(?P<hours>{_CN})?个?(?P<half>半)?(?:小时|钟头|h))?"
    rf"(?:(?P<minutes>\d{{1,3}}|[零〇一二两三四五六七八九十]{{1,3}})(?P<unit>分钟|分))?"
)
_FILLER = re.compile(r"^(?:开会|开|持续|大约|约|共|总共)|(?:左右|上下)$")
_END_WORDS = re.compile(r"到|至|结束|散会|为止")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        value = cn_number(text)
        return float(value) if value is not None else None


def read_length(text: str) -> timedelta | None:
    """`2小时`, `两个半小时`, `1.5小时`, `半小时`, `2小时30分`, `90分钟` -> the length; None for anything else."""
    word = _FILLER.sub("", re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).lower()))
    match = _LENGTH.fullmatch(word)
    if not word or match is None:
        return None
    hours_text, half, minutes_text, unit = match.group("hours", "half", "minutes", "unit")
    has_hours = hours_text is not None or half is not None
    if not has_hours and unit != "分钟":  # 30分 alone reads as a clock's minutes, not a length
        return None
    hours = _number(hours_text) if hours_text else 0.0
    minutes = _number(minutes_text) if minutes_text else 0.0
    if hours is None or minutes is None:
        return None
    return timedelta(hours=hours + (0.5 if half else 0), minutes=minutes)


def parse_end(text: str, *, starts_at: datetime, now: datetime, tz: str) -> datetime | Ambiguous:
    """The end of a session starting at `starts_at`, or the question that settles it."""
    length = read_length(text)
    if length is not None:
        ends = starts_at + length
    else:
        cleaned = _END_WORDS.sub(" ", unicodedata.normalize("NFKC", text))
        found = parse_when(cleaned, now=now, tz=tz, on=local(starts_at, tz).date(), after=starts_at)
        if isinstance(found, Ambiguous):
            return Ambiguous(f"没看懂结束时间。请写几点结束，{EXAMPLES}。")
        ends = found
    start = local(starts_at, tz)
    if ends <= starts_at:
        return Ambiguous(f"结束时间要晚于开始时间（{start:%H:%M}）。请写几点结束，{EXAMPLES}。")
    if ends - starts_at > MAX_LENGTH:
        hours = int(MAX_LENGTH.total_seconds() // 3600)
        return Ambiguous(f"一次协商最长 {hours} 小时。请写几点结束，{EXAMPLES}。")
    return ends
