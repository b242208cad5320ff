"""Parse the convenor's quick multi-line list entry: one item a line, liberal separators."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date

from bot.services import adoption, workdays
from storage.models import Adoption

KINDS = ("suggestions", "responsibilities", "feedback")

# References: receipts (#YS-2026-000001, #WJ-2026-000003, lower-case or full-width ＃ fine) or topic numbers (#1).
_REF = re.compile(r"[#＃]\s*((?:YS|WJ)\s*[-－—]?\s*\d{4}\s*[-－—]?\s*\d{1,6}|\d{1,3})", re.IGNORECASE)
# Who made a suggestion (协商建议清单): `@王芳` anywhere on the line; counted in their 履职档案.
_AUTHOR = re.compile(r"[@＠]\s*([^\s@＠#＃｜|，,、;；]{1,20})")
_SEP = re.compile(r"\s*[｜|，,、;；]\s*|\s{2,}|\t")


@dataclass
class ParsedLine:
    line_no: int
    raw: str
    text: str = ""
    unit: str | None = None
    deadline: date | None = None
    result: str | None = None
    adopted: Adoption | None = None
    adopted_word: str | None = None  # the last field as typed, for the preview: 暂未采纳（待定）
    receipts: list[str] = field(default_factory=list)  # normalised, e.g. YS-2026-000001
    topics: list[int] = field(default_factory=list)  # the session's topic numbers (#1)
    author: str | None = None  # suggestions: the name after @
    error: str | None = None


def _norm_receipt(ref: str) -> str:
    digits = re.findall(r"\d+", ref)
    prefix = ref.strip()[:2].upper()
    return f"{prefix}-{digits[0]}-{int(digits[1]):06d}"


def _take_refs(line: str, parsed: ParsedLine) -> str:
    for ref in _REF.findall(line):
        if ref.isdigit():
            parsed.topics.append(int(ref))
        else:
            parsed.receipts.append(_norm_receipt(ref))
    return _REF.sub(" ", line).strip()


def parse_deadline(text: str, *, today: date) -> date | None:
    """2026-12-31, 2026年12月31日, 12月31日, 12/31, 月底, 年底, 10个工作日 → a date (month-days roll to next
    year if past; working days count holidays and 调休, bot/services/workdays.py)."""
    t = text.strip().replace(" ", "")
    m = re.fullmatch(r"(\d{1,3})个?工作日内?", t)
    if m and int(m[1]) > 0:
        return workdays.nth_workday_after(today, int(m[1]))
    if t in ("月底", "本月底"):
        return date(today.year, today.month, calendar.monthrange(today.year, today.month)[1])
    if t in ("下月底",):
        y, mo = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        return date(y, mo, calendar.monthrange(y, mo)[1])
    if t in ("年底", "今年底", "年末"):
        return date(today.year, 12, 31)
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", t)
    try:
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
        m = re.fullmatch(r"(\d{1,2})[-/.月](\d{1,2})[日号]?", t)
        if m:
            day = date(today.year, int(m[1]), int(m[2]))
            return day if day >= today else date(today.year + 1, day.month, day.day)
        m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})月?底?", t)
        if m and ("底" in t or "月" in t):
            y, mo = int(m[1]), int(m[2])
            return date(y, mo, calendar.monthrange(y, mo)[1])
        m = re.fullmatch(r"(\d{1,2})月底", t)
        if m:
            mo = int(m[1])
            y = today.year if mo >= today.month else today.year + 1
            return date(y, mo, calendar.monthrange(y, mo)[1])
    except ValueError:
        return None
    return None


def parse_line(kind: str, line_no: int, raw: str, *, today: date) -> ParsedLine:
    parsed = ParsedLine(line_no=line_no, raw=raw)
    rest = _take_refs(raw, parsed)
    if kind == "suggestions":
        named = _AUTHOR.search(rest)
        if named is not None:
            parsed.author = named.group(1)
            rest = (rest[: named.start()] + " " + rest[named.end() :]).strip()
    parts = [p for p in _SEP.split(rest) if p]
    if not parts:
        parsed.error = "没有内容"
        return parsed
    if len(parts) < 3:
        # a single space is a separator too when nothing stronger was used
        parts = [w for p in parts for w in p.split()]
    if kind == "suggestions":
        parsed.text = rest
    elif kind == "responsibilities":
        if len(parts) < 3:
            parsed.text = parts[0]
            parsed.error = "请写成「事项｜责任单位｜截止日期」"
            return parsed
        parsed.text, parsed.unit = parts[0], parts[1]
        parsed.deadline = parse_deadline("".join(parts[2:]), today=today)
        if parsed.deadline is None:
            parsed.error = f"看不懂截止日期「{''.join(parts[2:])}」，请写成 2026-12-31、12月31日、月底或 10个工作日"
    elif kind == "feedback":
        if len(parts) < 3:
            parsed.text = parts[0]
            parsed.error = f"请写成「事项｜结果｜采纳情况」，采纳情况写{adoption.accepted_words()}"
            return parsed
        parsed.text, parsed.result = parts[0], "，".join(parts[1:-1])
        parsed.adopted, parsed.adopted_word = adoption.parse(parts[-1]), parts[-1]
        if parsed.adopted is None:
            parsed.error = f"看不懂最后一项「{parts[-1]}」。采纳情况请写{adoption.accepted_words()}"
    else:
        raise ValueError(kind)
    return parsed


def parse_lines(kind: str, message: str, *, today: date) -> list[ParsedLine]:
    """Every non-empty line of the message, numbered from 1, with any problem noted on it."""
    lines = [ln.strip() for ln in message.replace("\r", "\n").split("\n")]
    return [parse_line(kind, i, ln, today=today) for i, ln in enumerate((ln for ln in lines if ln), start=1)]
