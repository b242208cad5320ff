"""Who someone is: 绑定 (take a role with an invite code), 邀请 (a convenor issues codes for their room)
and 称呼 (the name the bot and the convenors use; asked once after binding)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from bot.clock import fmt_local
from bot.context import Ctx
from bot.dialogs.binding import ROLE_LABELS, looks_like_code
from bot.dialogs.engine import Data
from bot.handlers.registry import Command
from bot.roles import CONVENORS, ROLE_NAMES, ROLE_ORDER, ROLE_WORDS
from bot.services import people
from bot.services.invites import create_invite
from bot.services.sessions import convened_rooms
from bot.text import choose, normalize
from storage.models import Invite, Role, Room, RoomRole


def cmd_bind(ctx: Ctx, rest: str) -> list[str]:
    """绑定 邀请码：用议事室给的邀请码获得委员、代表或召集人身份。"""
    if not rest.strip():
        return ctx.dialogs.start("bind")
    return bind(ctx, {"code": looks_like_code(rest) or normalize(rest).upper()})


def bind(ctx: Ctx, data: Data) -> list[str]:
    code = str(data["code"])
    invite = ctx.session.scalars(select(Invite).where(Invite.code == code).with_for_update()).first()
    if invite is None:
        return [f"邀请码「{code[:16]}」不正确。请核对后重发，或向召集人重新索取。"]
    if invite.used_at is not None:
        return ["这个邀请码已经用过了（每个邀请码只能用一次）。请向召集人重新索取。"]
    if invite.expires_at <= ctx.now:
        return ["这个邀请码已过期。请向召集人重新索取。"]
    room = ctx.session.get(Room, invite.room_id)
    assert room is not None
    role = Role(invite.role)
    exists = ctx.session.scalars(
        select(RoomRole).where(RoomRole.room_id == room.id, RoomRole.person_id == ctx.person_id, RoomRole.role == role)
    ).first()
    if exists is None:
        ctx.session.add(RoomRole(room_id=room.id, person_id=ctx.person_id, role=role, created_at=ctx.now))
    invite.used_at = ctx.now
    invite.used_by_id = ctx.person_id
    done = f"绑定成功：您现在是「{room.name}」的{ROLE_NAMES[role]}。发「帮助」看看能做什么。"
    if ctx.person.display_name:
        return [done]
    return [done, *ctx.dialogs.start("naming", {"member": True})]


def cmd_name(ctx: Ctx, rest: str) -> list[str]:
    """称呼 名字：设置召集人和会议通知怎么称呼您。"""
    name = rest.strip()
    if not name:
        return ctx.dialogs.start("naming", {"member": bool(people.roles_of(ctx.session, person_id=ctx.person_id))})
    problem = people.name_problem(name)
    if problem:
        return [f"{problem}请写成「称呼 名字」，如「称呼 王芳」。"]
    return set_name(ctx, {"name": name})


def set_name(ctx: Ctx, data: Data) -> list[str]:
    """Effect of the 称呼 question."""
    people.set_name(ctx.person, str(data["name"]))
    return [f"好的，以后称呼您「{ctx.person.display_name}」。想改的话随时发「称呼 新名字」。"]


def cmd_invite(ctx: Ctx, rest: str) -> list[str]:
    """邀请 委员|代表|召集人 [议事室]：为本议事室生成一次性邀请码（7 天有效）。"""
    role_text, _, room_text = rest.strip().partition(" ")
    index = choose(role_text, ROLE_LABELS, aliases=ROLE_WORDS) if role_text else None
    rooms = convened_rooms(ctx.session, person_id=ctx.person_id)
    data: Data = {"rooms": [[r.id, r.name] for r in rooms]}
    if index is not None:
        data["role"] = ROLE_ORDER[index].value
    room = _pick_room(rooms, room_text.strip())
    if room is not None:
        data["room_id"] = room.id
    if "role" in data and "room_id" in data:
        return issue_invite(ctx, data)
    return ctx.dialogs.start("invite", data)


def issue_invite(ctx: Ctx, data: Data) -> list[str]:
    rooms = {r.id: r for r in convened_rooms(ctx.session, person_id=ctx.person_id)}
    room = rooms.get(int(data["room_id"]))
    if room is None:
        return ["您已不是这个议事室的召集人，没有生成邀请码。"]
    role = Role(str(data["role"]))
    invite = create_invite(ctx.session, room_id=room.id, role=role, now=ctx.now, created_by_id=ctx.person_id)
    until = fmt_local(invite.expires_at, ctx.settings.timezone)
    return [
        f"「{room.name}」{ROLE_NAMES[role]}邀请码：{invite.code}\n有效期至 {until}，只能使用一次。"
        f"请对方在公众号或企业微信里发送：绑定 {invite.code}"
    ]


def _pick_room(rooms: list[Room], text: str) -> Room | None:
    """The one room convened, or the one `text` names (number, name or part of it); None when unclear."""
    if len(rooms) == 1:
        return rooms[0]
    index = choose(text, [r.name for r in rooms]) if text else None
    return rooms[index] if index is not None else None


EFFECTS: dict[str, Callable[[Ctx, Data], list[str]]] = {
    "bind_code": bind,
    "issue_invite": issue_invite,
    "set_name": set_name,
}

COMMANDS = [
    Command("绑定", ("绑定", "绑定邀请码"), cmd_bind, "用邀请码获得委员、代表或召集人身份", inline=True),
    Command("邀请", ("邀请",), cmd_invite, "生成本议事室的一次性邀请码", roles=CONVENORS),
    Command("称呼", ("称呼", "我的名字", "改名字", "叫我"), cmd_name, "设置怎么称呼您，如「称呼 王芳」", inline=True),
]
