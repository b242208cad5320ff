"""Was the suggestion adopted? The last field of a 结果反馈清单 line, read into an `Adoption` value.

The reading is one table (`WORDS`): each value with the words convenors write for it. Negation and
partial answers are values of their own, never folded into 已采纳 because the word contains 采纳.
暂未采纳 / 尚未采纳 say "not yet": no decision has been taken, so they are 待定 (pending), like 研究中
and 可能采纳. 暂不采纳 is a decision ("we do not adopt it, for now") and 无法采纳 a refusal: both are
未采纳 (not_adopted). 部分采纳 is partly.
"""

from __future__ import annotations

from bot.text import close_to, normalize
from storage.models import Adoption

NAMES: dict[Adoption, str] = {
    Adoption.adopted: "已采纳",
    Adoption.partly: "部分采纳",
    Adoption.pending: "待定",
    Adoption.not_adopted: "未采纳",
}

# Each value with the words read as it (compared after `normalize`: width, case, spaces, punctuation).
# The first words of each row after its name are the ones suggested when a word is not understood.
# fmt: off
WORDS: dict[Adoption, tuple[str, ...]] = {
    Adoption.adopted: ("已采纳", "采纳", "采用", "同意", "是",
                       "已采用", "已经采纳", "予以采纳", "全部采纳", "完全采纳"),
    Adoption.partly: ("部分采纳", "部分", "部分采用", "部分同意", "基本采纳"),
    # not decided yet: 暂未 / 尚未 "not yet", 可能 "maybe", 拟采纳 "intends to", 暂缓采纳 "put off, not refused"
    Adoption.pending: ("待定", "暂未采纳", "尚未采纳", "研究中", "可能采纳",
                       "还未采纳", "未定", "正在研究", "待研究", "考虑中", "拟采纳", "暂缓采纳"),
    # decided against: 暂不采纳 "no, for now", 无法 / 不能 "cannot"
    Adoption.not_adopted: ("未采纳", "不采纳", "无法采纳", "不予采纳", "暂不采纳",
                           "否", "不同意", "没采纳", "没有采纳", "不能采纳", "未采用", "不采用"),
}
# fmt: on

_BY_WORD: dict[str, Adoption] = {normalize(word): value for value, words in WORDS.items() for word in words}
assert len(_BY_WORD) == sum(len(words) for words in WORDS.values()), "a word is read as two values"

SUGGESTED = 4  # words shown after each name when a word is not understood


def accepted_words() -> str:
    """已采纳（采纳、采用、同意、是）、部分采纳（…）、待定（…）或未采纳（…）"""
    parts = []
    for value, name in NAMES.items():
        others = [w for w in WORDS[value] if w != name][:SUGGESTED]
        parts.append(f"{name}（{'、'.join(others)}）")
    return "、".join(parts[:-1]) + "或" + parts[-1]


def parse(word: str) -> Adoption | None:
    """The value a word means: exactly one of the table's words, or one typo away from words of one value only."""
    key = normalize(word)
    if not key:
        return None
    if key in _BY_WORD:
        return _BY_WORD[key]
    # 未采纳 and 采纳 are one character apart, so a typo counts only when every close word means the same.
    close = {value for known, value in _BY_WORD.items() if close_to(key, known)}
    return close.pop() if len(close) == 1 else None


def name(value: str | None) -> str:
    """The Chinese name of a stored value; empty for none (an item recorded without one)."""
    if value is None:
        return ""
    try:
        return NAMES[Adoption(value)]
    except ValueError:
        return value  # not one of ours (written by hand into the database): shown as it is


def as_typed(word: str, value: Adoption) -> str:
    """What was typed with what it was read as, for the preview: 暂未采纳（待定）; the name alone when the same."""
    typed = " ".join(word.split())
    return NAMES[value] if normalize(typed) == normalize(NAMES[value]) else f"{typed}（{NAMES[value]}）"
