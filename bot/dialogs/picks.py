"""Numbered lists the bot has just shown, as open questions: every list can be answered by its number.

A resident with several results to rate or follow-up questions to answer, and a convenor looking at
办理进度 or 回头看, answer with `1 满意`, `2 没解决 灯还是不亮`, `3 50%`, `1 已联系供电所明天复查`. The
handler that shows a list puts its items ([id, label], in the order shown) into the data; what is
already known (the 满意 said before the list) rides along, so a bare number completes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from enum import StrEnum

from bot.dialogs.common import typed
from bot.dialogs.engine import Data, Dialog, Finish, Goto, Lookups, Outcome, Retry, Step
from bot.incoming import Incoming
from bot.services.followup import ANSWER_NAMES, parse_answer
from bot.services.proposals import split_receipt
from bot.services.ratings import RATING_NAMES, parse_rating
from bot.text import normalize, numbered, split_number

ALL_WORDS = ("全部", "都是", "所有", "全都", "都")
RATING_OPTIONS = list(RATING_NAMES.values())  # 满意, 基本满意, 不满意: numbered 1-3 as the digits read
ANSWER_OPTIONS = list(ANSWER_NAMES.values())  # 解决了, 没解决, 不清楚


class Rate(StrEnum):
    pick = "rate:pick"
    how = "rate:how"


class Solved(StrEnum):
    pick = "solved:pick"
    how = "solved:how"


class Item(StrEnum):
    progress = "progress_pick:item"
    reply = "reply_pick:item"
    answer = "answer_pick:item"


def _items(data: Data) -> list[list[object]]:
    return list(data.get("items") or [])


def listing(data: Data) -> str:
    return numbered([str(item[1]) for item in _items(data)])


def _picked(data: Data, text: str) -> tuple[list[int] | None, str] | Retry:
    """The ids a reply picks (a number, a receipt, or 全部) and the rest of it; None when it names no item."""
    items = _items(data)
    receipt, after = split_receipt(text)
    if receipt is not None:
        ids = [int(str(item[0])) for item in items if len(item) > 2 and item[2] == receipt]
        if len(ids) == 1:
            return ids, after
        return None, text.strip()  # not in the list, or two results on one receipt: the number says which
    number, rest = split_number(text)
    if number is not None:
        if not 1 <= number <= len(items):
            return Retry(f"没有第 {number} 项。请回复 1 到 {len(items)} 之间的序号：\n{listing(data)}", understood=True)
        return [int(str(items[number - 1][0]))], rest
    word = normalize(text)
    for all_word in ALL_WORDS:
        if word.startswith(all_word):
            return [int(str(item[0])) for item in items], text.strip()[len(all_word) :].strip(" ，,：:")
    return None, text.strip()


# --- 评价: which result does this rating belong to? -------------------------------------------------


def ask_rate(data: Data, _lookups: Lookups) -> str:
    said = f"您的「{RATING_NAMES[data['rating']]}」是评哪一项？" if data.get("rating") else ""
    how = (
        "回复序号（都一样可回复「全部」）。"
        if data.get("rating")
        else "请回复「序号 评价」，如「1 满意」「2 不满意 还是很吵」。"
    )
    return f"您有 {len(_items(data))} 项结果待评价。{said}\n{listing(data)}\n{how}"


def _pick_then(
    data: Data,
    text: str,
    *,
    read: Callable[[str], Data | None],
    known: str,
    effect: str,
    then: str,
    usage: tuple[str, str],
) -> Outcome:
    """A numbered answer: `1 满意` picks and answers; `1` alone uses the answer given before the list
    (`known`) or asks for it (`then`); the answer alone does when only one item is listed."""
    example, how = usage
    picked = _picked(data, text)
    if isinstance(picked, Retry):
        return picked
    ids, rest = picked
    answer = read(rest) if rest else None
    if ids is None:
        if answer is None or len(_items(data)) != 1:
            return Retry(f"请回复序号，如「{example}」：\n{listing(data)}")
        ids = [int(str(_items(data)[0][0]))]
    if answer is not None:
        return Finish(effect, {"picks": ids, **answer})
    if rest:
        return Retry(how)
    return Finish(effect, {"picks": ids}) if data.get(known) else Goto(then, {"picks": ids})


def _rating(text: str) -> Data | None:
    parsed = parse_rating(text, loose=True)
    return {"rating": parsed[0], "comment": parsed[1]} if parsed is not None else None


def _solved(text: str) -> Data | None:
    parsed = parse_answer(text, loose=True)
    return {"answer": parsed.answer, "reason": parsed.reason} if parsed is not None else None


def rate_pick(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    usage = ("1 满意", "评价请写「满意」「基本满意」或「不满意」，如「1 满意」，后面可附一句意见。")
    return _pick_then(data, typed(msg), read=_rating, known="rating", effect="rate_results", then=Rate.how, usage=usage)


def ask_rate_how(data: Data, _lookups: Lookups) -> str:
    labels = {int(str(item[0])): str(item[1]) for item in _items(data)}
    which = "、".join(f"「{labels.get(int(i), '')}」" for i in data.get("picks") or [])
    return f"对{which}的办理结果，您的评价是？请回复序号，可附一句意见：\n{numbered(RATING_OPTIONS)}"


def rate_how(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    answer = _rating(typed(msg))
    return Finish("rate_results", answer) if answer else Retry(f"请回复 1、2 或 3：\n{numbered(RATING_OPTIONS)}")


# --- 回头看: which follow-up question is this answer for? ------------------------------------------


def ask_solved(data: Data, _lookups: Lookups) -> str:
    said = f"您说的「{ANSWER_NAMES[data['answer']]}」是哪一项？" if data.get("answer") else ""
    how = (
        "回复序号（都一样可回复「全部」）。"
        if data.get("answer")
        else "请回复「序号 回答」，如「1 解决了」「2 没解决 灯还是不亮」。"
    )
    return f"您有 {len(_items(data))} 项事项在回访：问题真的解决了吗？{said}\n{listing(data)}\n{how}"


def solved_pick(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    usage = ("1 解决了", "请写「解决了」「没解决」（可附原因）或「不清楚」，如「1 解决了」。")
    effect = "answer_followups"
    return _pick_then(data, typed(msg), read=_solved, known="answer", effect=effect, then=Solved.how, usage=usage)


def ask_solved_how(_data: Data, _lookups: Lookups) -> str:
    return f"这件事现在真的解决了吗？请回复序号（没解决可附上原因）：\n{numbered(ANSWER_OPTIONS)}"


def solved_how(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    answer = _solved(typed(msg))
    return Finish("answer_followups", answer) if answer else Retry(f"请回复 1、2 或 3：\n{numbered(ANSWER_OPTIONS)}")


# --- convenors: 办理进度 and 回头看 lists ----------------------------------------------------------


def _pick_item(effect: str, example: str) -> Step:
    """A list item picked by number, with whatever follows (the percent, the answer) handed on."""

    def prompt(data: Data, _lookups: Lookups) -> str:
        return f"{listing(data)}\n回复序号选择一项，如「{example}」。"

    def handle(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
        number, rest = split_number(typed(msg))
        items = _items(data)
        if number is None:
            return Retry(f"请回复序号，如「{example}」。")
        if not 1 <= number <= len(items):
            return Retry(f"没有第 {number} 项。请回复 1 到 {len(items)} 之间的序号，如「{example}」。", understood=True)
        return Finish(effect, {"pick": int(str(items[number - 1][0])), "rest": rest})

    return Step(prompt, handle, next="", passes=True)


def _question(name: str, title: str, steps: dict[str, Step], effect: str, cancelled: str) -> Dialog:
    """A question dialog: its first step is the list; each step stays put when 跳过 has nowhere to go."""
    first = next(iter(steps))
    return Dialog(
        name=name,
        title=title,
        first=first,
        confirm=first,
        steps={state: replace(step, next=step.next or state) for state, step in steps.items()},
        effects=(effect,),
        kind="question",
        cancelled=cancelled,
    )


DIALOGS: tuple[Dialog, ...] = (
    _question(
        "rate",
        "评价",
        {Rate.pick: Step(ask_rate, rate_pick, next=""), Rate.how: Step(ask_rate_how, rate_how, next="")},
        "rate_results",
        "好的，这次没有评价。想评价时发「评价」。",
    ),
    _question(
        "solved",
        "回头看",
        {Solved.pick: Step(ask_solved, solved_pick, next=""), Solved.how: Step(ask_solved_how, solved_how, next="")},
        "answer_followups",
        "好的，这次没有回答。想回答时直接回复「解决了」「没解决 原因」或「不清楚」。",
    ),
    _question(
        "progress_pick",
        "办理进度",
        {Item.progress: _pick_item("start_progress", "3 50%")},
        "start_progress",
        "好的，进度没有更新。",
    ),
    _question(
        "answer_pick",
        "待回应",
        {Item.answer: _pick_item("start_answer", "1 已转交物业，本周修好")},
        "start_answer",
        "好的，没有答复。",
    ),
    _question(
        "reply_pick",
        "回头看",
        {Item.reply: _pick_item("start_reply", "1 已联系供电所明天复查")},
        "start_reply",
        "好的，没有答复。",
    ),
)
