"""Parsing the convenor's quick multi-line list entry."""

from __future__ import annotations

from datetime import date

from bot.services.list_parse import parse_deadline, parse_lines

TODAY = date(2026, 11, 23)


def test_suggestion_lines_keep_receipts_and_topic_numbers() -> None:
    """Receipts (any case, full-width #) and topic numbers are pulled out of a suggestion line."""
    [line] = parse_lines("suggestions", "增设路灯 ＃ys-2026-1 #WJ-2026-000003 #2", today=TODAY)
    assert line.text == "增设路灯"
    assert line.receipts == ["YS-2026-000001", "WJ-2026-000003"]
    assert line.topics == [2]
    assert line.error is None


def test_responsibility_lines_accept_several_separators_and_dates() -> None:
    """Full-width bars, pipes, commas and spaces all separate; dates like 12月31日 and 月底 are read."""
    lines = parse_lines(
        "responsibilities",
        "修路灯｜村委会｜2026-12-31\n清理垃圾|物业|12月31日\n\n补种绿化，园林站，月底\n装监控 派出所 1月15日",
        today=TODAY,
    )
    assert [(ln.text, ln.unit, ln.deadline) for ln in lines] == [
        ("修路灯", "村委会", date(2026, 12, 31)),
        ("清理垃圾", "物业", date(2026, 12, 31)),
        ("补种绿化", "园林站", date(2026, 11, 30)),
        ("装监控", "派出所", date(2027, 1, 15)),
    ]
    assert all(ln.error is None for ln in lines)


def test_bad_lines_are_pointed_out() -> None:
    """A line missing its deadline or with an unreadable adoption word carries a plain error."""
    [bad_date] = parse_lines("responsibilities", "修路灯｜村委会｜尽快", today=TODAY)
    assert bad_date.error is not None and "尽快" in bad_date.error
    lines = parse_lines("feedback", "修路灯｜已修好｜采纳 #1\n装监控｜暂缓｜再看看", today=TODAY)
    assert (lines[0].text, lines[0].result, lines[0].adopted, lines[0].topics) == ("修路灯", "已修好", True, [1])
    assert lines[1].error is not None and lines[1].line_no == 2
    [rejected] = parse_lines("feedback", "装监控｜经费不足｜未采纳", today=TODAY)
    assert rejected.adopted is False


def test_deadline_words() -> None:
    """年底 is the last day of this year."""
    assert parse_deadline("年底", today=TODAY) == date(2026, 12, 31)
