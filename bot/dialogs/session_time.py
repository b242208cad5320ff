"""When a session is: the start, read for 新建协商 and 改期 alike, and the end (新建协商).

A start the convenor typed unclearly is asked about (凌晨还是下午?); a short answer to that question
completes the earlier try. The end defaults to DEFAULT_LENGTH after the start.
"""

from __future__ import annotations

from datetime import datetime

from bot.clock import local
from bot.dialogs.common import typed
from bot.dialogs.engine import Data, Goto, Lookups, Outcome, Retry
from bot.incoming import Incoming
from bot.services.end_time import DEFAULT_LENGTH, EXAMPLES, parse_end
from bot.services.session_notices import length_text, span_text, when_text
from bot.services.timeparse import Ambiguous, parse_when
from bot.text import control_word, normalize

TZ_KEY = "tz"
SHORT = 6  # an answer this short (下午, 明天) completes the last try rather than replacing it
DEFAULT_WORDS = ("默认", "用默认", "按默认", "默认的", "就用默认")  # 跳过 and 好 mean the default as well


def tz_of(data: Data) -> str:
    return str(data.get(TZ_KEY) or "Asia/Shanghai")


def now_of(data: Data) -> datetime:
    return datetime.fromisoformat(str(data["now"]))


def ask_time(data: Data, _lookups: Lookups) -> str:
    if data.get("time_question"):
        return str(data["time_question"])
    return "什么时候开始？例如「12月3日下午3点」「明天上午9点」「下周二14:30」「2026-12-03 15:00」。"


def read_time(data: Data, msg: Incoming, this_state: str, next_state: str) -> Outcome:
    """A time, or the question that settles it; a short answer to that question completes the last try."""
    text = typed(msg)
    if not text:
        return Retry("请用文字写出日期和时间，例如「12月3日下午3点」。")
    tz = tz_of(data)
    pending = str(data.get("time_pending") or "")
    result = parse_when(text, now=now_of(data), tz=tz)
    kept = text
    if isinstance(result, Ambiguous) and pending:
        combined = parse_when(f"{pending} {text}", now=now_of(data), tz=tz)
        # The answer completes the earlier try, unless it is a fresh try of its own (long, or itself a partial).
        if isinstance(combined, datetime) or combined.partial or (not result.partial and len(text) <= SHORT):
            result, kept = combined, f"{pending} {text}"
    if isinstance(result, Ambiguous):
        # Stay on this step, asking the question; a short answer that follows completes `kept`.
        updates = {"time_pending": kept if result.partial else None, "time_question": result.question}
        return Goto(this_state, updates)
    return Goto(
        next_state,
        {"starts_at": result.isoformat(), "time_pending": None, "time_question": None},
        note=f"时间：{when_text(result, tz)}",
    )


def starts_of(data: Data) -> datetime | None:
    return datetime.fromisoformat(str(data["starts_at"])) if data.get("starts_at") else None


def ends_of(data: Data) -> datetime | None:
    """The end typed at the end step, else DEFAULT_LENGTH after the start."""
    if data.get("ends_at"):
        return datetime.fromisoformat(str(data["ends_at"]))
    starts = starts_of(data)
    return starts + DEFAULT_LENGTH if starts else None


def ask_end(data: Data, _lookups: Lookups) -> str:
    default = starts_of(data)
    shown = f"{local(default + DEFAULT_LENGTH, tz_of(data)):%H:%M}" if default else ""
    return (
        f"几点结束？默认开到 {shown}（共 {length_text(DEFAULT_LENGTH)}）：回复「默认」或「跳过」。\n"
        f"也可以写几点结束，{EXAMPLES}。"
    )


def read_end(data: Data, msg: Incoming, next_state: str) -> Outcome:
    """The end as typed (a time or a length), or the default for 默认 / 跳过 / 好."""
    text = typed(msg)
    starts = starts_of(data)
    assert starts is not None  # the end step follows the start step
    if control_word(text) in {"skip", "agree"} or normalize(text) in DEFAULT_WORDS:
        ends = starts + DEFAULT_LENGTH
    else:
        found = parse_end(text, starts_at=starts, now=now_of(data), tz=tz_of(data))
        if isinstance(found, Ambiguous):
            return Retry(f"{found.question}\n用默认（开始后 {length_text(DEFAULT_LENGTH)}）请回复「默认」。")
        ends = found
    note = f"结束：{span_text(starts, ends, tz_of(data)).split('至 ', 1)[1]}（共 {length_text(ends - starts)}）"
    return Goto(next_state, {"ends_at": ends.isoformat()}, note=note)
