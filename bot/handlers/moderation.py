"""公开 and 隐藏: a convenor decides what residents' text the live page and the board show.

A new item with a sensitive word waits (待审核) and its convenors are told at once; 公开 shows it,
隐藏 keeps it off (and takes back one already shown). Hidden items stay in the records.

The words: 通过 alone is one typo from the control word 跳过 (it would skip a form's step, or be
told nothing is open), so the bot teaches 公开; 「通过 WJ-…」 with a number still works (a control word
is a short message alone). 公开 and 隐藏 are two edits from every control word and in no other command.
"""

from __future__ import annotations

from bot.context import Ctx
from bot.handlers.registry import Command
from bot.roles import CONVENORS
from bot.services import moderation, sessions, staff_notices
from bot.services.privacy import mask_phones
from bot.services.proposals import split_receipt
from bot.text import shorten

USAGE = "请发送「{word} 编号」，如「{word} WJ-2026-000012」。"
NOTHING_HELD = "您的议事室没有待审核的内容。"


def cmd_approve(ctx: Ctx, rest: str) -> list[str]:
    """公开 编号：含敏感词、待审核的内容可以公开显示（现场页面和公开页面）。"""
    return _decide(ctx, rest, show=True)


def cmd_hide(ctx: Ctx, rest: str) -> list[str]:
    """隐藏 编号：不在现场页面和公开页面显示（已显示的也撤下），记录仍保留。"""
    return _decide(ctx, rest, show=False)


def _decide(ctx: Ctx, rest: str, *, show: bool) -> list[str]:
    word = "公开" if show else "隐藏"
    receipt, _words = split_receipt(rest)
    rooms = sorted(r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person_id))
    if receipt is None:
        return [_held_list(ctx, rooms, USAGE.format(word=word))]
    item = moderation.find(ctx.session, receipt=receipt)
    if item is None or item.room_id not in rooms:
        return [f"没有找到您议事室编号为 {receipt} 的提议或微建言，请核对编号。"]
    about = f"{receipt}「{shorten(mask_phones(moderation.text_of(item)), 20)}」"
    wanted = moderation.SHOWN if show else moderation.HIDDEN
    if item.visibility == wanted:
        state = "已经公开显示" if show else "已经隐藏"
        return [f"{about}{state}了，没有变化。"]
    moderation.decide(ctx.session, item=item, show=show, person_id=ctx.person_id, now=ctx.now)
    if show:
        return [f"已公开 {about}：现在会显示在现场页面和公开页面上。"]
    return [f"已隐藏 {about}：不再显示在现场页面和公开页面上。记录仍保留，提交的居民在「我的」里仍能看到。"]


def _held_list(ctx: Ctx, rooms: list[int], usage: str) -> str:
    waiting = moderation.held(ctx.session, room_ids=rooms)
    if not waiting:
        return f"{NOTHING_HELD}\n{usage}"
    lines = [f"· {item.receipt} {shorten(mask_phones(moderation.text_of(item)), 30)}" for item in waiting]
    return "待审核（含敏感词，暂未公开显示）：\n" + "\n".join(lines) + f"\n{usage}"


def tell_held(ctx: Ctx, *, room_id: int, receipt: str, text: str, found: list[str], key: str) -> None:
    """The room's convenors hear at once of an item held for a sensitive word, with its number."""
    words = "、".join(f"「{w}」" for w in found[:3])
    line = (
        f"{receipt}「{shorten(mask_phones(text), 40)}」含敏感词{words}，待审核，暂未在现场页面和公开页面显示。\n"
        f"回复「公开 {receipt}」显示，或「隐藏 {receipt}」不显示。"
    )
    staff_notices.tell(
        ctx.session, room_id=room_id, line=line, key=f"held:{key}", now=ctx.now, settings=ctx.settings, urgent=True
    )


COMMANDS: list[Command] = [
    Command(
        "公开",
        ("公开", "通过", "公开显示"),
        cmd_approve,
        "让含敏感词、待审核的内容上墙",
        roles=CONVENORS,
    ),
    Command(
        "隐藏",
        ("隐藏", "屏蔽"),
        cmd_hide,
        "撤下现场页面上的内容",
        roles=CONVENORS,
    ),
]
