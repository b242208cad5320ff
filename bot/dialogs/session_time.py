"""When a session is: the start, read for 新建协商 and 改期 alike, and the end (新建协商).

A start the convenor typed unclearly is asked about (凌晨还是下午?); a short answer to that question
completes the earlier try. The end defaults to DEFAULT_LENGTH after the start.
"""

from __future__ import annotations

from datetime import datetime

from bot.dialogs.common import typed
from bot.dialogs.engine import Data, Goto, Lookups, Outcome, Retry
from bot.incoming import Incoming
from bot.services.session_notices import when_text
from bot.services.timeparse import Ambiguous, parse_when

TZ_KEY = "tz"
SHORT = 6  # an answer this short (下午, 明天) completes the last try rather than replacing it


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
