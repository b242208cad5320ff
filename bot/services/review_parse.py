"""Reading what a convenor types in 待审: picks, one-line actions, merge targets, reasons, dates (pure).

`受理 1`, `合并 1 到 2`, `不予采纳 1 理由……`, `审定 1 审定单位 XX 日期 今天`, `报上级 1 社情民意信息 原因……`,
`退回 1 原因……`, or a receipt number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.services.escalation_path import KIND_ALIASES, KINDS

# Longest first: 不予采纳 must not be read as anything shorter.
ACTION_WORDS = (
    ("退回下级", "return"),
    ("报上级", "escalate"),
    ("不予采纳", "decline"),
    ("不采纳", "decline"),
    ("受理", "accept"),
    ("合并", "merge"),
    ("审定", "approve"),
    ("退回", "return"),
    ("处理", ""),
    ("查看", ""),
)

_REF = re.compile(
    r"^\s*(?:(YS)\s*-?\s*(\d{4})\s*-?\s*(\d{6})|第?\s*(\d{1,3}|[一二两三四五六七八九十])\s*[条个号项]?)", re.I
)
_CN = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


@dataclass(frozen=True)
class Shortcut:
    action: str  # "" when only an item is picked
    ref: int | str  # a list number or a receipt number
    rest: str  # what follows: the target, the reason, the unit and date


def _fold(text: str) -> str:
    # No NFKC: the rest is the convenor's own words (a reason) and keeps its punctuation;
    # the patterns' \d and \s already read full-width digits and spaces.
    return text.strip()


def parse_ref(text: str) -> tuple[int | str, str] | None:
    """`1 理由…` -> (1, `理由…`); `YS-2026-000002` -> (`YS-2026-000002`, ``)."""
    folded = _fold(text)
    match = _REF.match(folded)
    if match is None:
        return None
    rest = folded[match.end() :].strip(" ，,:：　")
    if match.group(1):
        return f"YS-{match.group(2)}-{match.group(3)}", rest
    number = match.group(4)
    return (int(number) if number.isdigit() else _CN[number]), rest


def parse_shortcut(text: str) -> Shortcut | None:
    """A pick (`1`, `处理 1`, a receipt) or a one-line action (`受理 1` ...), else None."""
    folded = _fold(text)
    action = ""
    for word, name in ACTION_WORDS:
        if folded.startswith(word):
            action, folded = name, folded[len(word) :]
            break
    parsed = parse_ref(folded)
    if parsed is None:
        return None
    ref, rest = parsed
    if not action and rest:
        return None  # `1 路灯…` or `处理 1 好的` is not a pick
    return Shortcut(action, ref, rest)


def parse_target(text: str) -> int | str | None:
    """`到 YS-2026-000002`, `2`, `到第2条` -> the list number or receipt."""
    cleaned = re.sub(r"^(合并到|并入|合并|到|至|->|→)", "", _fold(text)).strip()
    parsed = parse_ref(cleaned)
    return parsed[0] if parsed is not None and not parsed[1] else None


_KIND_PREFIX = re.compile(r"^(作为|类别|类型|按)\s*[:：为是]?\s*")


def parse_kind(text: str) -> tuple[str | None, str]:
    """`社情民意信息 原因……` -> (`opinion`, `原因……`); the kind must stand apart from the reason
    (`建议由镇里统一协调` is a reason, not 建议). (None, text) when no kind is named."""
    folded = _KIND_PREFIX.sub("", _fold(text))
    words = sorted(((w, k) for k in KINDS for w in {KINDS[k], *KIND_ALIASES[k]}), key=lambda wk: -len(wk[0]))
    for word, kind in words:
        if folded.startswith(word):
            after = folded[len(word) :]
            if not after or after[0] in " ，,。:：;；　":
                return kind, after.strip(" ，,。:：;；　")
    return None, _fold(text)


def parse_reason(text: str) -> str:
    return re.sub(r"^(理由|原因)\s*(是|为)?\s*[:：，,]?", "", _fold(text)).strip()


_FULL_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_MONTH_DAY = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?")
_RELATIVE = re.compile(r"今天|今日|昨天|昨日|前天|明天")
_RELATIVE_DAYS = {"今天": 0, "今日": 0, "昨天": -1, "昨日": -1, "前天": -2, "明天": 1}
_LABELS = re.compile(r"(审定)?(单位|日期)\s*[:：为是]?")


def _find_day(text: str, today: date) -> tuple[date | None, str, bool]:
    """The date in `text`, the text without it, and whether something date-like was unreadable."""
    for pattern in (_FULL_DATE, _MONTH_DAY, _RELATIVE):
        match = pattern.search(text)
        if match is None:
            continue
        remainder = text[: match.start()] + " " + text[match.end() :]
        if pattern is _RELATIVE:
            return today + timedelta(days=_RELATIVE_DAYS[match.group(0)]), remainder, False
        year = int(match.group(1)) if pattern is _FULL_DATE else today.year
        month, day = (match.group(2), match.group(3)) if pattern is _FULL_DATE else (match.group(1), match.group(2))
        try:
            return date(year, int(month), int(day)), remainder, False
        except ValueError:
            return None, remainder, True
    return None, text, False


def parse_day(text: str, today: date) -> date | None:
    """`2026-12-01`, `2026年12月1日`, `12月1日`, `今天` -> the date; None when unclear."""
    found, remainder, _bad = _find_day(_fold(text), today)
    return found if found is not None and not _LABELS.sub("", remainder).strip(" ，,。") else None


def parse_approval(text: str, today: date) -> tuple[str, date | None, bool]:
    """`审定单位 XX镇党委 日期 2026-12-01` -> (`XX镇党委`, 2026-12-01, unreadable date?)."""
    found, remainder, bad = _find_day(_fold(text), today)
    unit = _LABELS.sub(" ", remainder).strip(" ，,。;；")
    return " ".join(unit.split()), found, bad
