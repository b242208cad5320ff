"""绑定 (take a role with an invite code) and 邀请 (a convenor issues codes for their room)."""

from __future__ import annotations

from sqlalchemy import select

from bot.clock import fmt_local
from bot.context import Ctx
from bot.handlers.registry import Command
from bot.services.invites import create_invite
from bot.services.sessions import convened_rooms
from bot.text import choose, normalize, numbered
from storage.models import Invite, Role, Room, RoomRole

ROLE_NAMES = {Role.member: "委员", Role.representative: "群众代表", Role.convenor: "召集人"}
ROLE_WORDS = [
    ("委员", "政协委员", "特邀议事员", "议事员", "member"),
    ("代表", "群众代表", "representative"),
    ("召集人", "共同召集人", "convenor"),
]
ROLE_ORDER = [Role.member, Role.representative, Role.convenor]


def cmd_bind(ctx: Ctx, rest: str) -> list[str]:
    """绑定 邀请码：用议事室给的邀请码获得委员、代表或召集人身份。"""
    code = normalize(rest).upper()
    if not code:
        return ["请发送「绑定 邀请码」，例如：绑定 ABCD2345。邀请码由议事室召集人或政协办提供。"]
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
        select(RoomRole).where(RoomRole.room_id == room.id, RoomRole.person_id == ctx.person.id, RoomRole.role == role)
    ).first()
    if exists is None:
        ctx.session.add(RoomRole(room_id=room.id, person_id=ctx.person.id, role=role, created_at=ctx.now))
    invite.used_at = ctx.now
    invite.used_by_id = ctx.person.id
    return [f"绑定成功：您现在是「{room.name}」的{ROLE_NAMES[role]}。发「帮助」看看能做什么。"]


def cmd_invite(ctx: Ctx, rest: str) -> list[str]:
    """邀请 委员|代表|召集人 [议事室]：为本议事室生成一次性邀请码（7 天有效）。"""
    role_text, _, room_text = rest.strip().partition(" ")
    index = choose(role_text, [ROLE_NAMES[r] for r in ROLE_ORDER], aliases=ROLE_WORDS) if role_text else None
    if index is None:
        return ["请说明邀请什么身份，例如：邀请 委员、邀请 代表、邀请 召集人。"]
    role = ROLE_ORDER[index]
    rooms = convened_rooms(ctx.session, person_id=ctx.person.id)
    room = _pick_room(rooms, room_text.strip())
    if room is None:
        example = f"邀请 {ROLE_NAMES[role]} {rooms[0].name[:4]}"
        return [
            f"您是几个议事室的召集人，请写明为哪个议事室邀请，例如「{example}」：\n" + numbered([r.name for r in rooms])
        ]
    invite = create_invite(ctx.session, room_id=room.id, role=role, now=ctx.now, created_by_id=ctx.person.id)
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


COMMANDS = [
    Command("绑定", ("绑定", "绑定邀请码"), cmd_bind, "用邀请码获得委员、代表或召集人身份"),
    Command("邀请", ("邀请",), cmd_invite, "生成本议事室的一次性邀请码", roles=frozenset({"convenor"})),
]
