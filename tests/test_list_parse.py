"""Parsing the convenor's quick multi-line list entry."""

from __future__ import annotations

from datetime import date

import pytest

from bot.services import adoption
from bot.services.list_parse import parse_deadline, parse_lines
from storage.models import Adoption

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
    assert (lines[0].text, lines[0].result, lines[0].adopted, lines[0].topics) == ("修路灯", "已修好", "adopted", [1])
    assert lines[1].error is not None and lines[1].line_no == 2
    [rejected] = parse_lines("feedback", "装监控｜经费不足｜未采纳", today=TODAY)
    assert rejected.adopted == "not_adopted"


def test_deadline_words() -> None:
    """年底 is the last day of this year."""
    assert parse_deadline("年底", today=TODAY) == date(2026, 12, 31)


# What each word means, written out here rather than read from the table it tests.
READINGS = {
    Adoption.adopted: ["已采纳", "采纳", "采用", "已采用", "同意", "是", "已经采纳", "予以采纳", "全部采纳"],
    Adoption.partly: ["部分采纳", "部分", "部分采用", "部分同意", "基本采纳"],
    # Not decided yet: 暂未 / 尚未 say "not yet", 可能 "maybe", 研究中 "still being studied".
    Adoption.pending: [
        "暂未采纳",
        "尚未采纳",
        "还未采纳",
        "研究中",
        "正在研究",
        "可能采纳",
        "拟采纳",
        "暂缓采纳",
        "待定",
    ],
    # Decided against: 暂不采纳 is "no, for now", 无法 "cannot".
    Adoption.not_adopted: [
        "未采纳",
        "不采纳",
        "无法采纳",
        "不予采纳",
        "暂不采纳",
        "没采纳",
        "不能采纳",
        "否",
        "不同意",
    ],
}


@pytest.mark.parametrize(("word", "value"), [(w, v) for v, words in READINGS.items() for w in words])
def test_each_adoption_word_is_read_as_what_it_means(word: str, value: Adoption) -> None:
    """No word that merely contains 采纳 becomes 已采纳: negations and partial answers keep their meaning."""
    assert adoption.parse(word) == value
    [line] = parse_lines("feedback", f"#1 加装路灯｜已装两盏｜{word}", today=TODAY)
    assert (line.error, line.adopted, line.adopted_word) == (None, value, word)


def test_the_table_reads_every_word_it_lists_as_its_own_row() -> None:
    for value, words in adoption.WORDS.items():
        assert {adoption.parse(w) for w in words} == {value}, value
    assert set(adoption.NAMES) == set(adoption.WORDS) == set(Adoption)


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("　部分　采纳　", Adoption.partly),  # full-width spaces
        ("暂未采纳。", Adoption.pending),  # full-width punctuation
        ("（无法采纳）", Adoption.not_adopted),
        ("部份采纳", Adoption.partly),  # typo: 份 for 分
        ("未釆纳", Adoption.not_adopted),  # typo: 釆 for 采
        ("可能采钠", Adoption.pending),  # typo: 钠 for 纳
        ("采钠", Adoption.adopted),
    ],
)
def test_width_and_one_typo_are_forgiven(word: str, value: Adoption) -> None:
    assert adoption.parse(word) == value
    [line] = parse_lines("feedback", f"＃１　加装路灯｜已装两盏｜{word}", today=TODAY)
    assert (line.topics, line.text, line.adopted) == ([1], "加装路灯", value)


@pytest.mark.parametrize("word", ["暂末采纳", "末采纳", "来采纳"])
def test_a_typo_between_two_meanings_is_not_guessed(word: str) -> None:
    """暂末采纳 is one character from 暂未采纳 (待定) and from 暂不采纳 (未采纳): asked again, not guessed."""
    assert adoption.parse(word) is None


def test_an_unknown_adoption_word_is_an_error_listing_the_accepted_words() -> None:
    [line] = parse_lines("feedback", "装监控｜经费申请中｜再议", today=TODAY)
    assert line.adopted is None and line.error is not None
    assert "「再议」" in line.error
    for word in ("已采纳", "部分采纳", "待定", "暂未采纳", "可能采纳", "未采纳", "无法采纳", "暂不采纳"):
        assert word in line.error, word


def test_the_preview_says_what_was_typed_and_how_it_was_read() -> None:
    assert adoption.as_typed("部分采纳", Adoption.partly) == "部分采纳"
    assert adoption.as_typed("暂未采纳", Adoption.pending) == "暂未采纳（待定）"
    assert adoption.as_typed("无法采纳", Adoption.not_adopted) == "无法采纳（未采纳）"
    assert adoption.as_typed("采纳", Adoption.adopted) == "采纳（已采纳）"
    assert [adoption.name(v) for v in ("adopted", "partly", "pending", "not_adopted", None)] == [
        "已采纳",
        "部分采纳",
        "待定",
        "未采纳",
        "",
    ]
