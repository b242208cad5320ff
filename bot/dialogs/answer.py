"""回应: a convenor answers a micro-suggestion (from 待回应 or `回应 WJ-…`), with a preview and 确认.

The handler puts the suggestion (id, receipt, its text) into the data, so no step looks it up.
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.common import said_confirm, typed, until_filled
from bot.dialogs.engine import Data, Dialog, Finish, Goto, Lookups, Outcome, Retry, Step
from bot.incoming import Incoming
from bot.services.suggestions import MAX_ANSWER_CHARS

MIN_CHARS = 2


class S(StrEnum):
    text = "answer_note:text"
    confirm = "answer_note:confirm"


def _words(msg: Incoming) -> str | Retry:
    body = typed(msg)
    if len(body) < MIN_CHARS:
        return Retry(f"请写下给居民的答复（至少 {MIN_CHARS} 个字），或回复「取消」。")
    if len(body) > MAX_ANSWER_CHARS:
        return Retry(f"答复请控制在 {MAX_ANSWER_CHARS} 字以内（现在 {len(body)} 字）。")
    return body


def _sent_along(data: Data) -> str:
    """Its photo and place lines (with the signed link), each on a line of its own."""
    return "".join(f"{line}\n" for line in data.get("media") or [])


def ask_text(data: Data, _lookups: Lookups) -> str:
    return (
        f"微建言 {data.get('receipt', '')}：{data.get('note', '')}\n{_sent_along(data)}"
        "请写下给居民的答复（如处理安排、进展）。"
    )


def text(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    body = _words(msg)
    return body if isinstance(body, Retry) else Goto(S.confirm, {"reply": body})


def ask_confirm(data: Data, _lookups: Lookups) -> str:
    return (
        f"将答复居民：\n微建言 {data.get('receipt', '')}：{data.get('note', '')}\n{_sent_along(data)}"
        f"答复：{data.get('reply', '')}\n\n"
        "回复「确认」发送；直接发来新的答复可替换；回复「取消」放弃。"
    )


def confirm(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    """确认 sends; any other sentence replaces the answer."""
    if said_confirm(msg):
        return Finish("answer_note")
    body = _words(msg)
    if isinstance(body, Retry):
        return Retry("请回复「确认」发送，直接发来新的答复可替换，或回复「取消」放弃。")
    return Goto(S.confirm, {"reply": body}, note="已改为新的答复。")


DIALOG = Dialog(
    name="answer_note",
    title="回应微建言",
    first=S.text,
    confirm=S.confirm,
    required=("reply",),
    effects=("answer_note",),
    draft_keys=("reply",),
    cancelled="已取消，答复没有发送。",
    steps={
        S.text: Step(
            ask_text,
            text,
            next=S.confirm,
            applies=until_filled("reply"),
            help="答复会发给提建言的居民。",
            free_text=True,
        ),
        S.confirm: Step(ask_confirm, confirm, next=S.confirm, help="确认后答复会发给居民。"),
    },
)
