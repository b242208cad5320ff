"""Free text (or a photo) outside any dialog is never lost: offer to file it.

What a person sends before they answer — a second sentence, a photo, a location — joins the offer,
and whichever way they pick carries all of it into 微建言 or 提议题.
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.common import typed
from bot.dialogs.engine import Data, Dialog, Finish, Goto, Lookups, Outcome, Retry, Step
from bot.incoming import Incoming
from bot.text import choose, numbered, shorten

OPTIONS = ["作为微建言提交", "作为议题提议（可补充照片、位置）", "不用了"]
ALIASES = [
    ("微建言", "建言", "建议", "提建议"),
    ("提议题", "议题", "提议", "出题"),
    ("不用", "不要", "算了", "不提交", "否", "不需要"),
]
MIN_CHARS = 4  # shorter text (嗯, 谢谢) is no item to file
MAX_CHARS = 1000
SUGGESTION_MAX = 500  # bot/dialogs/suggest.py holds a 微建言 to this


class S(StrEnum):
    choose = "offer:choose"


def joined(data: Data) -> str:
    """Everything typed into the offer, in order, one message a line."""
    return "\n".join(str(t) for t in data.get("texts") or [])


def ask(data: Data, _lookups: Lookups) -> str:
    texts = [str(t) for t in data.get("texts") or []]
    photos = len(data.get("photos") or [])
    if len(texts) == 1:
        head = f"收到您的留言：「{shorten(texts[0], 60)}」"
    elif texts:
        head = f"收到您的 {len(texts)} 条留言：\n" + "\n".join(f"「{shorten(t, 40)}」" for t in texts)
    elif not photos and not data.get("location_label"):
        return ""  # opened by speech that was not heard right: nothing to offer yet (the engine asks again)
    else:
        head = "收到。"
    extras = [
        f"照片 {photos} 张" if photos else "",
        f"位置：{data['location_label']}" if data.get("location_label") else "",
    ]
    extra = "（另有" + "，".join(e for e in extras if e) + "）" if any(extras) else ""
    return f"{head}{extra}\n要把它提交给议事室吗？请回复序号：\n{numbered(OPTIONS)}\n也可以接着补充，会合在一起提交。"


def heard_words(text: str) -> bool:
    """Speech is read back when it would be filed as words, not when it picks an option (说「一」「不用了」)."""
    return choose(text, OPTIONS, aliases=ALIASES) is None and len(text.strip()) >= MIN_CHARS


def pick(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    text = typed(msg)
    index = choose(text, OPTIONS, aliases=ALIASES) if text else None
    if index == 0:
        size = len(joined(data))
        if size > SUGGESTION_MAX:
            return Retry(
                f"内容有 {size} 个字，微建言限 {SUGGESTION_MAX} 字。请回复「2」作为议题提议，或回复「不用了」。"
            )
        return Finish("offer_suggest")
    if index == 1:
        return Finish("offer_propose")
    if index == 2:
        return Finish("offer_drop")
    if len(text) >= MIN_CHARS:
        texts = [*(data.get("texts") or []), text]
        if len("\n".join(texts)) > MAX_CHARS:
            return Retry(f"补充的内容超过了 {MAX_CHARS} 字。请先回复序号提交已有的内容，再另发。")
        first = len(texts) == 1 and not data.get("photos") and not data.get("location_label")
        note = "" if first else f"已补充（共 {len(texts)} 条），会合在一起提交。"
        return Goto(S.choose, {"texts": texts}, note=note)
    return Retry(f"请回复 1、2 或 3：\n{numbered(OPTIONS)}\n也可以接着补充内容。")


DIALOG = Dialog(
    name="offer",
    title="留言",
    first=S.choose,
    confirm=S.choose,
    effects=("offer_suggest", "offer_propose", "offer_drop"),
    media=True,
    draft_keys=("texts", "photos"),
    leave_hint=False,  # its own option 3 is 不用了
    steps={
        S.choose: Step(
            ask,
            pick,
            next=S.choose,
            help="选 1 或 2 会把您的留言提交给议事室；选 3 不提交。",
            commands=frozenset({"提议题", "微建言"}),
            hears=heard_words,
        )
    },
)
