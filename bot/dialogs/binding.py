"""绑定 and 邀请 asked in two messages: the code after 绑定, the role (and room) after 邀请.

Both are questions: a reply that is not a code, a role or a room goes on to be read as usual.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bot.dialogs.common import typed
from bot.dialogs.engine import Data, Dialog, Finish, Goto, Lookups, Outcome, Retry, Step
from bot.incoming import Incoming
from bot.roles import ROLE_NAMES, ROLE_ORDER, ROLE_WORDS
from bot.services.invites import CODE_LENGTH
from bot.text import choose, normalize, numbered

CODE = re.compile(r"^[A-Z0-9]{6,12}$")  # the codes are 8 characters (bot/services/invites.py)
ROLE_LABELS = [ROLE_NAMES[r] for r in ROLE_ORDER]


class Bind(StrEnum):
    code = "bind:code"


class Invite(StrEnum):
    role = "invite:role"
    room = "invite:room"


def looks_like_code(text: str) -> str | None:
    """An invite code as typed (ab cd 2345, ＡＢＣＤ２３４５): upper-case letters and digits, or None."""
    code = normalize(text).upper()
    return code if CODE.match(code) else None


def ask_code(_data: Data, _lookups: Lookups) -> str:
    return "请发送邀请码，例如 ABCD2345。邀请码由议事室召集人或政协办提供。"


def code(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    found = looks_like_code(typed(msg))
    if found is None:
        return Retry(f"这不像邀请码。邀请码是 {CODE_LENGTH} 位字母和数字，例如 ABCD2345。")
    return Finish("bind_code", {"code": found})


def _rooms(data: Data) -> list[list[object]]:
    return list(data.get("rooms") or [])


def ask_role(_data: Data, _lookups: Lookups) -> str:
    return f"为哪种身份生成邀请码？请回复序号：\n{numbered(ROLE_LABELS)}"


def role(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    index = choose(typed(msg), ROLE_LABELS, aliases=ROLE_WORDS)
    if index is None:
        return Retry(f"请回复 1 到 {len(ROLE_LABELS)} 的序号：\n{numbered(ROLE_LABELS)}")
    picked = {"role": ROLE_ORDER[index].value}
    return Finish("issue_invite", picked) if data.get("room_id") else Goto(Invite.room, picked)


def ask_room(data: Data, _lookups: Lookups) -> str:
    names = [str(name) for _id, name in _rooms(data)]
    return f"您是几个议事室的召集人，为哪个议事室邀请？请回复序号：\n{numbered(names)}"


def room(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    rooms = _rooms(data)
    index = choose(typed(msg), [str(name) for _id, name in rooms])
    if index is None:
        return Retry(f"请回复 1 到 {len(rooms)} 的序号。")
    return Finish("issue_invite", {"room_id": rooms[index][0]})


DIALOGS: tuple[Dialog, ...] = (
    Dialog(
        name="bind",
        title="绑定",
        first=Bind.code,
        confirm=Bind.code,
        steps={Bind.code: Step(ask_code, code, next=Bind.code)},
        effects=("bind_code",),
        kind="question",
        cancelled="好的，没有绑定。",
    ),
    Dialog(
        name="invite",
        title="邀请",
        first=Invite.role,
        confirm=Invite.role,
        steps={
            Invite.role: Step(ask_role, role, next=Invite.room, applies=lambda d, _l: not d.get("role")),
            Invite.room: Step(ask_room, room, next=Invite.room),
        },
        effects=("issue_invite",),
        kind="question",
        cancelled="好的，没有生成邀请码。",
    ),
)
