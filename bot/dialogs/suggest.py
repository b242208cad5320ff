"""微建言: a short suggestion to a room, in one message."""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.common import (
    change_room,
    confirm_hint,
    confirm_step,
    room_line,
    room_step,
    typed,
    until_filled,
    wants_room_change,
)
from bot.dialogs.engine import Data, Dialog, Goto, Lookups, Outcome, Retry, Step
from bot.incoming import Incoming

MAX_CHARS = 500


class S(StrEnum):
    room = "suggest:room"
    text = "suggest:text"
    confirm = "suggest:confirm"


def ask_text(data: Data, _lookups: Lookups) -> str:
    return f"请写下您的微建言，一句话也行。\n{room_line(data)}"


def text(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    if wants_room_change(msg):
        return change_room(S.room)
    body = typed(msg)
    if len(body) < 2:
        return Retry("请用文字写下您的建议（至少 2 个字）。")
    if len(body) > MAX_CHARS:
        return Retry(f"微建言请控制在 {MAX_CHARS} 字以内（现在 {len(body)} 字）；较复杂的问题可以发「提议题」。")
    return Goto(S.confirm, {"text": body})


def ask_confirm(data: Data, _lookups: Lookups) -> str:
    room = f"议事室：{data.get('room_name', '')}（要换议事室请回复「换议事室」）"
    return f"您的微建言：{data.get('text', '')}\n{room}\n\n{confirm_hint('提交')}"


DIALOG = Dialog(
    name="suggest",
    title="微建言",
    first=S.room,
    confirm=S.confirm,
    cancelled="已取消，微建言没有提交。需要时再发「微建言」。",
    required=("room_id", "text"),
    effects=("file_suggestion",),
    media=True,
    draft_keys=("text", "photos"),
    steps={
        S.room: room_step(S.room, S.text),
        S.text: Step(
            ask_text,
            text,
            next=S.confirm,
            applies=until_filled("text"),
            help="微建言是简短的意见建议，会转给议事室的召集人。",
            free_text=True,
        ),
        S.confirm: confirm_step(
            S.confirm, ask_confirm, "file_suggestion", room_state=S.room, help="确认后会得到一个编号，可随时查询。"
        ),
    },
)
