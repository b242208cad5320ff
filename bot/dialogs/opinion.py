"""征求意见 and 排序: the convenor's two forms, and the two questions residents answer one at a time.

征求意见 takes up to ten statements in one message, one a line (as 清单 takes its items), shows them and
sends them on 确认. 排序 shows how many residents get how many pairs and starts on 确认. The handlers put
the convenor's rooms and the head counts into the data, so the steps never query.

Residents answer a statement (同意 / 不同意 / 跳过, or 1 / 2 / 3) and a pair (1 / 2, or 0 for 都不急) as
*questions*: a message that answers neither goes on to the other routes, and a form being filled in
is never put away for them (the handler opens the question only when no form is open).
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.common import confirm_hint, confirm_step, room_line, room_step, typed, until_filled
from bot.dialogs.engine import Data, Dialog, Finish, Goto, Handler, Lookups, Outcome, Retry, Step
from bot.incoming import Incoming
from bot.services.opinion_rounds import MAX_STATEMENTS, OPTIONS, parse
from bot.services.priority_rounds import FIRST, NEITHER, QUESTION, SECOND
from bot.text import choose, normalize, numbered

VOTE_WORDS = ["同意", "不同意", "跳过"]
VOTE_ALIASES = [
    ("赞成", "支持", "认同", "同意的", "我同意"),
    ("反对", "不赞成", "不支持", "不认同", "我不同意"),
    ("不知道", "说不清", "不好说", "弃权", "pass", "不表态", "没想法", "略过"),
]
VOTES = ["agree", "disagree", "pass"]
PAIR_WORDS = ["第一个", "第二个"]
PAIR_ALIASES = [
    ("前一个", "前者", "第一件", "上面的", "上面那个", "一号", "第1个"),
    ("后一个", "后者", "第二件", "下面的", "下面那个", "二号", "第2个"),
]
NEITHER_WORDS = frozenset({"0", "零", "〇", "都不急", "都不着急", "都不太急", "一样", "都一样", "差不多", "都不"})


def read_vote(text: str) -> str | None:
    """同意 / 不同意 / 跳过 by number (1 2 3) or words, full width too; None when it is no vote."""
    index = choose(text, VOTE_WORDS, aliases=VOTE_ALIASES) if text and len(normalize(text)) <= 6 else None
    return VOTES[index] if index is not None else None


def read_pair(text: str) -> str | None:
    """1 / 2 (or 第一个 / 后者 ...) and 0 for 都不急; None when it answers no pair."""
    word = normalize(text)
    if not word or len(word) > 6:
        return None
    if word in NEITHER_WORDS:
        return NEITHER
    index = choose(text, PAIR_WORDS, aliases=PAIR_ALIASES)
    return (FIRST, SECOND)[index] if index is not None else None


class Ask(StrEnum):
    room = "opinion_ask:room"
    statements = "opinion_ask:statements"
    confirm = "opinion_ask:confirm"


class Rank(StrEnum):
    room = "priority_ask:room"
    confirm = "priority_ask:confirm"


class Vote(StrEnum):
    statement = "opinion:statement"


class Pair(StrEnum):
    pick = "priority_pair:pick"


# --- 征求意见 -----------------------------------------------------------------------------------------


def ask_statements(data: Data, _lookups: Lookups) -> str:
    return (
        f"{room_line(data)}\n请写下想听大家看法的几句话，一行一句，最多 {MAX_STATEMENTS} 句，每句简短明确，如：\n"
        "小区应该增设电动车充电桩\n充电桩应该建在小区北门空地"
    )


def take_statements(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    text = typed(msg)
    if not text:
        return Retry("请发文字，一行一句。")
    parsed = parse(text)
    if parsed.problems or not parsed.statements:
        return Retry("\n".join([*parsed.problems, "请改好后整条重新发来，一行一句。"]))
    return Goto(Ask.confirm, {"statements": parsed.statements})


def ask_confirm(data: Data, _lookups: Lookups) -> str:
    count = int((data.get("audience") or {}).get(str(data.get("room_id")), 0))
    return (
        f"请核对，将向「{data.get('room_name', '')}」下次协商的受邀人和本室委员、代表共 {count} 人征求意见，"
        f"一次发一句，回复 1 同意 · 2 不同意 · 3 跳过：\n{numbered(list(data.get('statements') or []))}\n"
        f"{confirm_hint('发出')}"
    )


# --- 排序 --------------------------------------------------------------------------------------------


def ask_rank_confirm(data: Data, _lookups: Lookups) -> str:
    plan = (data.get("plans") or {}).get(str(data.get("room_id"))) or [0, 0, 0]
    items, people, pairs = (int(x) for x in plan)
    return (
        f"请核对：请「{data.get('room_name', '')}」提过、附议过提议的 {people} 位群众，"
        f"给 {items} 件未办结的提议排个先后，每人比 {pairs} 组（「{QUESTION}」）。\n{confirm_hint('发出')}"
    )


# --- the residents' questions --------------------------------------------------------------------


def show(data: Data, _lookups: Lookups) -> str:
    return str(data.get("ask") or "")


def take_vote(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    choice = read_vote(typed(msg))
    return Finish("opinion_vote", {"vote": choice}) if choice else Retry(OPTIONS)


def take_pair(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    choice = read_pair(typed(msg))
    return Finish("priority_answer", {"choice": choice}) if choice else Retry(QUESTION)


def _question(name: str, title: str, state: str, handle: Handler, effect: str, cancelled: str) -> Dialog:
    return Dialog(
        name=name,
        title=title,
        first=state,
        confirm=state,
        steps={state: Step(show, handle, next=state, passes=True)},
        effects=(effect,),
        kind="question",
        cancelled=cancelled,
    )


DIALOGS: tuple[Dialog, ...] = (
    Dialog(
        name="opinion_ask",
        title="征求意见",
        first=Ask.room,
        steps={
            Ask.room: room_step(Ask.room, Ask.statements),
            Ask.statements: Step(
                ask_statements,
                take_statements,
                next=Ask.confirm,
                applies=until_filled("statements"),
                free_text=True,
                help="一行写一句看法，大家逐句回复同意、不同意或跳过。",
            ),
            Ask.confirm: confirm_step(Ask.confirm, ask_confirm, "send_opinions", does="发出", room_state=Ask.room),
        },
        confirm=Ask.confirm,
        required=("room_id", "statements"),
        effects=("send_opinions",),
        draft_keys=("statements",),
    ),
    Dialog(
        name="priority_ask",
        title="排序",
        first=Rank.room,
        steps={
            Rank.room: room_step(Rank.room, Rank.confirm),
            Rank.confirm: confirm_step(
                Rank.confirm, ask_rank_confirm, "start_priority", does="发出", room_state=Rank.room
            ),
        },
        confirm=Rank.confirm,
        required=("room_id",),
        effects=("start_priority",),
    ),
    _question(
        "opinion",
        "征求意见",
        Vote.statement,
        take_vote,
        "opinion_vote",
        "好的，这一句先没有表态。想接着答时发「表态」。",
    ),
    _question(
        "priority_pair", "排序", Pair.pick, take_pair, "priority_answer", "好的，这一组先没有比。想接着比时发「表态」。"
    ),
)
