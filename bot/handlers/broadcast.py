"""广播 and 广播记录 for convenors; 退订 and 订阅 for anyone."""

from __future__ import annotations

from bot.clock import fmt_local
from bot.context import Ctx
from bot.dialogs.broadcast import MAX_CHARS, MIN_CHARS
from bot.dialogs.engine import Data
from bot.handlers.registry import Command
from bot.roles import CONVENORS
from bot.services import broadcasts
from bot.services.broadcasts import AUDIENCE_NAMES, Audience
from bot.services.delivery import Tally
from bot.text import shorten
from storage.models import Broadcast

LIST_LIMIT = 9
RECORDS_LIMIT = 5
STATUS_NAMES = {"sending": "发送中", "done": "已完成"}
AUDIENCE_SHORT: dict[str, str] = {
    Audience.members: "本室委员和代表",
    Audience.residents: "本室群众",
    Audience.proposers: "提议人和附议人",
    Audience.invitees: "协商受邀人",
}
NO_ROOM = "没有找到您担任召集人的议事室。"


def cmd_broadcast(ctx: Ctx, rest: str) -> list[str]:
    """广播：给本议事室的委员、群众、提议人或协商受邀人群发一条消息。"""
    room = broadcasts.convenor_room(ctx.session, person=ctx.person)
    if room is None:
        return [NO_ROOM]
    tz = ctx.settings.timezone
    data: Data = {
        "room_id": room.id,
        "room_name": room.name,
        "author_id": ctx.person_id,
        "proposal_choices": [
            [p.id, p.receipt, shorten(p.description, 20)]
            for p in broadcasts.open_proposals(ctx.session, room_id=room.id, limit=LIST_LIMIT)
        ],
        "session_choices": [
            [s.id, f"{fmt_local(s.starts_at, tz)} {shorten(s.title, 20)}"]
            for s in broadcasts.upcoming_sessions(ctx.session, room_id=room.id, now=ctx.now, limit=LIST_LIMIT)
        ],
    }
    body = rest.strip()
    if MIN_CHARS <= len(body) <= MAX_CHARS:  # `广播 明天停水`: the text came with the command
        data["text"] = body
    return ctx.dialogs.start("broadcast", data)


def send_broadcast(ctx: Ctx, data: Data) -> list[str]:
    """The effect of 确认: the broadcast row and one outbox row per recipient, in this transaction."""
    ref = data.get("audience_ref")
    created = broadcasts.create_broadcast(
        ctx.session,
        room_id=int(data["room_id"]),
        author_id=ctx.person_id,
        audience=str(data["audience"]),
        ref=int(ref) if ref else None,
        text=str(data["text"]),
        now=ctx.now,
    )
    if created is None:
        return ["这个对象目前没有可以发送的人（已退订广播的人和您本人不计在内），广播没有创建。"]
    return [f"已开始发送给 {created.recipients} 人，完成后会告诉您结果。\n发送「广播记录」可随时查看进度。"]


def cmd_records(ctx: Ctx, _rest: str) -> list[str]:
    """广播记录：本议事室最近 5 次广播，各发给多少人、送达和未送达各多少。"""
    room = broadcasts.convenor_room(ctx.session, person=ctx.person)
    if room is None:
        return [NO_ROOM]
    tallies = broadcasts.recent(ctx.session, room_id=room.id, limit=RECORDS_LIMIT)
    if not tallies:
        return [f"「{room.name}」还没有发过广播。发送「广播」开始第一次。"]
    lines = [f"「{room.name}」最近的广播（最新在前）："]
    for i, tally in enumerate(tallies, 1):
        item = tally.broadcast
        lines.append(
            f"{i}. {fmt_local(item.created_at, ctx.settings.timezone)} · {_audience(item)} · 共 {item.recipients} 人"
            f"（{STATUS_NAMES.get(item.status, item.status)}）\n"
            f"   「{shorten(item.text, 24)}」\n"
            f"   {_outcome(tally.counts)}"
        )
    return ["\n".join(lines)]


def _outcome(counts: Tally) -> str:
    """`送达 2，待确认 1，未送达 2（拒收 1，已取消关注 1），待发 3`: what became of a broadcast's messages."""
    parts = [f"送达 {counts.delivered}"]
    if counts.unconfirmed:
        parts.append(f"待确认 {counts.unconfirmed}")
    if counts.not_delivered:
        why = [
            f"{name} {count}"
            for name, count in (
                ("拒收", counts.blocked),
                ("已取消关注", counts.unfollowed),
                ("无法送达", counts.undelivered),
                ("失败", counts.failed),
            )
            if count
        ]
        parts.append(f"未送达 {counts.not_delivered}（{'，'.join(why)}）")
    if counts.waiting:
        parts.append(f"待发 {counts.waiting}")
    return "，".join(parts)


def _audience(item: Broadcast) -> str:
    return AUDIENCE_SHORT.get(item.audience, AUDIENCE_NAMES.get(item.audience, item.audience))


def cmd_unsubscribe(ctx: Ctx, _rest: str) -> list[str]:
    """退订：不再接收议事室的广播通知（自己提交事项的进展和答复照常通知）。"""
    changed = broadcasts.set_unsubscribed(ctx.person, unsubscribed=True)
    head = "已退订广播。" if changed else "您已经退订过广播了。"
    return [f"{head}退订后不再收到广播通知，但您提交事项的进展和答复仍会通知您。\n想重新接收广播，随时发送「订阅」。"]


def cmd_subscribe(ctx: Ctx, _rest: str) -> list[str]:
    """订阅：重新接收议事室的广播通知。"""
    changed = broadcasts.set_unsubscribed(ctx.person, unsubscribed=False)
    head = "已恢复订阅。" if changed else "您现在就能收到广播，不用重新订阅。"
    return [f"{head}议事室的广播通知会发给您；不想接收时发送「退订」。"]


COMMANDS: list[Command] = [
    Command(
        "广播记录",
        ("广播记录", "广播纪录", "广播历史"),
        cmd_records,
        "最近 5 次广播的发送结果",
        roles=CONVENORS,
    ),
    Command("广播", ("广播", "群发", "发广播"), cmd_broadcast, "给委员、群众、提议人或受邀人群发消息", roles=CONVENORS),
    Command(
        "退订", ("退订", "退订广播", "取消订阅", "不要广播"), cmd_unsubscribe, "不再接收广播通知（事项进展照常通知）"
    ),
    Command("订阅", ("订阅", "订阅广播", "重新订阅", "恢复订阅"), cmd_subscribe, "重新接收广播通知"),
]
