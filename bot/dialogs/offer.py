"""Free text outside any dialog is never lost: offer to file it."""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.engine import Data, Dialog, Finish, Lookups, Outcome, Step
from bot.incoming import Incoming
from bot.text import choose, numbered, shorten

OPTIONS = ["作为微建言提交", "作为议题提议（可补充照片、位置）", "不用了"]
ALIASES = [("微建言", "建言", "建议"), ("提议题", "议题", "提议"), ("不用", "不要", "算了", "不提交", "否")]


class S(StrEnum):
    choose = "offer:choose"


def ask(data: Data, _lookups: Lookups) -> str:
    return (
        f"收到您的留言：「{shorten(data.get('text', ''), 60)}」\n要把它提交给议事室吗？请回复序号：\n"
        f"{numbered(OPTIONS)}"
    )


def pick(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    index = choose(msg.text, OPTIONS, aliases=ALIASES) if msg.kind == "text" else None
    if index == 0:
        return Finish("chain:suggest")
    if index == 1:
        return Finish("chain:propose")
    if index == 2:
        return Finish("drop_offer")
    # Not an answer to the offer: treat it as a new message.
    return Finish("redispatch")


DIALOG = Dialog(
    name="offer",
    title="留言",
    first=S.choose,
    confirm=S.choose,
    steps={S.choose: Step(ask, pick, next=S.choose, help="选 1 或 2 会把您的留言提交给议事室。")},
)
