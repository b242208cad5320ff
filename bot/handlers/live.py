"""Answering micro-suggestions: 待回应 lists them, 回应 answers one (with a preview, or at once in the
session it was sent to: 场外协商、场内回应), and 现场 gives the live page's signed link for the room's
screen, where the page's own button answers too. The resident is told once, whichever way.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.clock import fmt_local
from bot.context import Ctx
from bot.dialogs.engine import Data
from bot.handlers.registry import Command
from bot.handlers.sessions import SESSION_NUMBER
from bot.roles import CONVENORS
from bot.services import live, photos, sessions, suggestions
from bot.services.proposals import split_receipt
from bot.services.session_notices import FORMAT_NAMES, when_text
from bot.text import shorten, split_number
from storage.models import ConsultSession, SessionFormat, Suggestion

MAX_LINKS = 5
HOW_TO_ANSWER = "在页面上点「回应」，或在这里发「回应 编号 回应内容」，提建言的居民会收到通知。"
ANSWER_USAGE = (
    "请发送「回应 编号 回应内容」，如：回应 WJ-2026-000012 已安排物业本周修好。发「待回应」查看还没答复的微建言。"
)
MAX_WAITING = 20


def _link_text(ctx: Ctx, consult: ConsultSession) -> str:
    url = live.page_url(ctx.settings.public_base_url, consult.id, secret=ctx.settings.secret_key.get_secret_value())
    state = live.phase(consult, ctx.now)
    when = "" if state == "进行中" else f"（{state}，{when_text(consult.starts_at, ctx.settings.timezone)}）"
    return f"会议 {consult.id}「{shorten(consult.title, 30)}」{when}\n{url}"


def cmd_live(ctx: Ctx, rest: str) -> list[str]:
    """现场 [会议编号或议题]：拿到协商现场大屏页面的链接，实时显示居民发来的微建言。"""
    rooms = [r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person_id)]
    rest = rest.strip()
    number = SESSION_NUMBER.match(rest)
    if number is not None:
        consult = ctx.session.get(ConsultSession, int(number.group(1)))
        if consult is None or consult.room_id not in rooms:
            return [f"没有找到您议事室的会议 {number.group(1)}。发「我的会议」可查看会议编号。"]
        if consult.status == "cancelled":
            return [f"会议 {consult.id}「{shorten(consult.title, 30)}」已经取消，没有现场页面。"]
        if not live.is_live(consult):
            name = FORMAT_NAMES.get(SessionFormat(consult.format), consult.format)
            return [f"会议 {consult.id} 是「{name}」形式；只有「现场」「网络」形式的协商活动才有现场页面。"]
        chosen = [consult]
    elif rest:
        chosen = live.sessions_titled(ctx.session, room_ids=rooms, words=rest[:50])
        if not chosen:
            return [f"没有找到议题含「{shorten(rest, 20)}」的「现场」「网络」协商活动。可以发「现场 会议编号」。"]
    else:
        upcoming = live.live_sessions(ctx.session, room_ids=rooms, now=ctx.now)
        running = [c for c in upcoming if c.starts_at <= ctx.now]
        chosen = running or upcoming[:1]
        if not chosen:
            return [
                "您的议事室目前没有正在进行或即将举行的「现场」「网络」协商活动。"
                "用「新建协商」安排时，形式选「现场」或「网络」即可。"
            ]
    links = "\n\n".join(_link_text(ctx, c) for c in chosen[:MAX_LINKS])
    head = "协商现场页面（请在会场大屏上打开，链接请勿外传）："
    now_on = any(live.phase(c, ctx.now) == "进行中" for c in chosen[:MAX_LINKS])
    lead = "会议进行中，" if now_on else "会议开始后，"
    tail = lead + "居民发来的「微建言」会实时出现在页面上。" + HOW_TO_ANSWER
    if len(chosen) > 1:
        tail += "\n有多场时，可发「现场 会议编号」只看一场。"
    return [f"{head}\n{links}\n\n{tail}"]


def cmd_answer(ctx: Ctx, rest: str) -> list[str]:
    """回应 编号 [回应内容]：答复一条微建言（会上或会后都行），提建言的居民会收到通知。"""
    receipt, words = split_receipt(rest)
    if receipt is None:
        return [ANSWER_USAGE]
    if not receipt.startswith("WJ"):
        return [f"{receipt} 是提议的编号；「回应」用于微建言（编号以 WJ 开头）。提议请用「待审」处理。"]
    note = suggestions.locked(ctx.session, receipt=receipt)
    if note is None or note.room_id not in _rooms(ctx):
        return [f"没有找到您议事室编号为 {receipt} 的微建言，请核对编号。"]
    if note.status == "answered":
        return [f"{receipt} 已经回应过了（{shorten(note.answer or '', 40)}），不会重复通知居民。"]
    consult = ctx.session.get(ConsultSession, note.session_id) if note.session_id else None
    if consult is not None and consult.room_id in _rooms(ctx) and live.phase(consult, ctx.now) in {"进行中", "已结束"}:
        # 场内回应: in (or just after) the session it was sent to, one line answers at once.
        live.answer(ctx.session, note=note, consult=consult, text=words, now=ctx.now, by=ctx.person_id)
        said = f"：{shorten(note.answer or '', 60)}" if words else ""
        return [f"已回应 {receipt}{said}。已通知提建言的居民，现场页面上也会标为「已回应」。"]
    return ctx.dialogs.start("answer_note", _note_data(ctx, note, words))


def cmd_waiting(ctx: Ctx, rest: str) -> list[str]:
    """待回应：本议事室还没答复的微建言，回复「序号 答复」即可答复。"""
    waiting = suggestions.unanswered(ctx.session, room_ids=sorted(_rooms(ctx)))[:MAX_WAITING]
    if not waiting:
        return ["您的议事室目前没有待回应的微建言。"]
    number, words = split_number(rest)
    if number is not None:
        if not 1 <= number <= len(waiting):
            return [f"没有第 {number} 条待回应的微建言。发「待回应」查看序号。"]
        return ctx.dialogs.start("answer_note", _note_data(ctx, waiting[number - 1], words))
    kept = photos.of_items(ctx.session, kind=photos.SUGGESTION, ids=[n.id for n in waiting])
    items = [[n.id, "\n   ".join([_waiting_line(n, ctx), *_media(ctx, n.id, kept[n.id])])] for n in waiting]
    replies = ctx.dialogs.start("answer_pick", {"items": items})
    return ["待回应的微建言（最早的在前）：\n" + replies[0], *replies[1:]]


def start_answer(ctx: Ctx, data: Data) -> list[str]:
    """Effect of the 待回应 list: the suggestion picked by number, and the answer if it came along."""
    note = suggestions.locked(ctx.session, suggestion_id=int(data["pick"]))
    if note is None or note.room_id not in _rooms(ctx) or note.status == "answered":
        return ["这条微建言已经答复过了，或已不在您的议事室。发「待回应」查看其他的。"]
    return ctx.dialogs.start("answer_note", _note_data(ctx, note, str(data.get("rest") or "")))


def answer_note(ctx: Ctx, data: Data) -> list[str]:
    """Effect of the 回应 dialog: the answer stored and sent to the resident, once."""
    note = suggestions.locked(ctx.session, suggestion_id=int(data["note_id"]))
    if note is None or note.room_id not in _rooms(ctx):
        return ["没有找到这条微建言，或您已不是它所在议事室的召集人，答复没有发送。"]
    if not suggestions.answer(ctx.session, note=note, text=str(data["reply"]), now=ctx.now, by=ctx.person_id):
        return [f"{note.receipt} 已经回应过了，这次的答复没有发送。"]
    left = len(suggestions.unanswered(ctx.session, room_ids=sorted(_rooms(ctx))))
    more = f"还有 {left} 条待回应，发「待回应」查看。" if left else "微建言都已答复。"
    return [f"已答复 {note.receipt}，并通知了提建言的居民。{more}"]


def _rooms(ctx: Ctx) -> set[int]:
    return {r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person_id)}


def _media(ctx: Ctx, note_id: int, kept: photos.Kept) -> list[str]:
    """`照片 2 张：<signed link>` and `位置：…（坐标 …）` of a micro-suggestion, for its convenors."""
    return photos.lines(kept, ctx.photo_links.page(photos.SUGGESTION, note_id))


def _note_data(ctx: Ctx, note: Suggestion, words: str) -> Data:
    kept = photos.of_item(ctx.session, kind=photos.SUGGESTION, item_id=note.id)
    data: Data = {
        "note_id": note.id,
        "receipt": note.receipt,
        "note": shorten(note.text, 60),
        "media": _media(ctx, note.id, kept),
    }
    if len(words.strip()) >= 2:
        data["reply"] = words.strip()
    return data


def _waiting_line(note: Suggestion, ctx: Ctx) -> str:
    days = suggestions.waited(note, now=ctx.now).days
    age = f"，已等 {days} 天" if days >= 1 else ""
    return f"{note.receipt} {shorten(note.text, 30)}（{fmt_local(note.created_at, ctx.settings.timezone)}{age}）"


EFFECTS: dict[str, Callable[[Ctx, Data], list[str]]] = {"start_answer": start_answer, "answer_note": answer_note}

COMMANDS: list[Command] = [
    Command(
        "现场",
        ("现场", "现场页面", "现场大屏"),
        cmd_live,
        "协商现场大屏页面的链接",
        roles=CONVENORS,
    ),
    Command(
        "待回应",
        ("待回应", "待答复", "微建言列表", "待回复"),
        cmd_waiting,
        "还没答复的微建言，逐条答复",
        roles=CONVENORS,
    ),
    Command(
        "回应",
        ("回应", "回应建言", "答复"),
        cmd_answer,
        "答复微建言，如「回应 WJ编号 内容」",
        roles=CONVENORS,
    ),
]
