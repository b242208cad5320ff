"""直通车: the experts suggested after 新建协商, as an open question — `1 3` (or `邀请 1 3`, `全部`) invites them.

The effect that created the session puts the suggestions ([person id, name, room, tags], in the order
shown) and the session's number into the data. A message that picks nobody goes on to the other routes.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bot.dialogs.common import typed
from bot.dialogs.engine import Data, Dialog, Finish, Lookups, Outcome, Retry, Step
from bot.incoming import Incoming
from bot.text import normalize, numbered

NUMBERS = re.compile(r"^[\d\s,，、和及]+$")
LEAD = re.compile(r"^(?:邀请|添加|加上|加)\s*")
ALL_WORDS = frozenset({"全部", "都邀请", "全部邀请", "都要", "都"})


class S(StrEnum):
    pick = "experts:pick"


def _items(data: Data) -> list[list[object]]:
    return list(data.get("items") or [])


def ask_pick(data: Data, _lookups: Lookups) -> str:
    lines = [f"{e[1]}（{e[2]}｜专长：{e[3]}）" for e in _items(data)]
    return (
        f"直通车：专家人才资源库里与这次议题相关的人：\n{numbered(lines)}\n"
        f"回复序号即邀请他们参加会议 {data.get('session_id')}，可选几个（如「1 3」，或「全部」）；不需要就不用回复。"
    )


def pick(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    text = LEAD.sub("", typed(msg))
    items = _items(data)
    if normalize(text) in ALL_WORDS:
        return Finish("invite_experts", {"picks": [int(str(e[0])) for e in items]})
    if not text or not NUMBERS.match(text):
        return Retry("请回复序号，如「1 3」。")
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    wrong = [n for n in numbers if not 1 <= n <= len(items)]
    if wrong or not numbers:
        return Retry(f"没有第 {wrong[0] if wrong else text} 位。请回复 1 到 {len(items)} 之间的序号。", understood=True)
    return Finish("invite_experts", {"picks": [int(str(items[n - 1][0])) for n in dict.fromkeys(numbers)]})


DIALOG = Dialog(
    name="experts",
    title="直通车",
    first=S.pick,
    confirm=S.pick,
    steps={S.pick: Step(ask_pick, pick, next=S.pick, passes=True, commands=frozenset({"邀请"}))},
    effects=("invite_experts",),
    kind="question",
    cancelled="好的，没有邀请专家。",
)
