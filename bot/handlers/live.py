"""场外协商、场内回应: micro-suggestions sent to a running online or onsite session.

现场 gives a convenor the signed link of the live page for the room's screen; 回应 marks one of the
session's micro-suggestions answered and tells its sender (the page's button does the same).
"""

from __future__ import annotations

from bot.context import Ctx
from bot.handlers.registry import Command
from bot.handlers.sessions import SESSION_NUMBER
from bot.roles import CONVENORS
from bot.services import live, sessions
from bot.services.proposals import split_receipt
from bot.services.session_notices import FORMAT_NAMES, when_text
from bot.text import shorten
from storage.models import ConsultSession, SessionFormat

MAX_LINKS = 5
HOW_TO_ANSWER = "在页面上点「回应」，或在这里发「回应 编号 回应内容」，提建言的居民会收到通知。"
ANSWER_USAGE = "请发送「回应 编号 回应内容」，如：回应 WJ-2026-000012 已安排物业本周修好（回应内容可不写）。"


def _link_text(ctx: Ctx, consult: ConsultSession) -> str:
    url = live.page_url(ctx.settings.public_base_url, consult.id, secret=ctx.settings.secret_key.get_secret_value())
    state = live.phase(consult, ctx.now)
    when = "" if state == "进行中" else f"（{state}，{when_text(consult.starts_at, ctx.settings.timezone)}）"
    return f"会议 {consult.id}「{shorten(consult.title, 30)}」{when}\n{url}"


def cmd_live(ctx: Ctx, rest: str) -> list[str]:
    """现场 [会议编号或议题]：拿到协商现场大屏页面的链接，实时显示居民发来的微建言。"""
    rooms = [r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person.id)]
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
    """回应 编号 [回应内容]：在现场回应一条微建言，提建言的居民会收到通知。"""
    receipt, words = split_receipt(rest)
    if receipt is None:
        return [ANSWER_USAGE]
    if not receipt.startswith("WJ"):
        return [f"{receipt} 是提议的编号；「回应」用于会上收到的微建言（编号以 WJ 开头）。"]
    note = live.locked_suggestion(ctx.session, receipt=receipt)
    consult = ctx.session.get(ConsultSession, note.session_id) if note and note.session_id else None
    rooms = {r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person.id)}
    if note is None or note.room_id not in rooms:
        return [f"没有找到您议事室编号为 {receipt} 的微建言，请核对编号。"]
    if consult is None or consult.room_id not in rooms:
        return [f"{receipt} 不是在协商活动进行时收到的微建言，不能在现场回应。"]
    if not live.answer(ctx.session, note=note, consult=consult, text=words, now=ctx.now):
        return [f"{receipt} 已经回应过了（{shorten(note.answer or '', 40)}），不会重复通知居民。"]
    said = f"：{shorten(note.answer or '', 60)}" if words else ""
    return [f"已回应 {receipt}{said}。已通知提建言的居民，现场页面上也会标为「已回应」。"]


COMMANDS: list[Command] = [
    Command(
        "现场",
        ("现场", "现场页面", "现场大屏"),
        cmd_live,
        "协商现场大屏页面的链接",
        roles=CONVENORS,
    ),
    Command(
        "回应",
        ("回应", "回应建言"),
        cmd_answer,
        "现场回应微建言，如「回应 WJ编号 内容」",
        roles=CONVENORS,
    ),
]
