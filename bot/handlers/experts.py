"""专长 (anyone holding a role sets their expertise tags) and 直通车 (experts offered after 新建协商).

The matching rule lives in `bot/services/experts.py`; the question that reads `1 3` in `bot/dialogs/experts.py`.
"""

from __future__ import annotations

from bot.context import Ctx
from bot.dialogs.engine import Data
from bot.handlers.registry import Command
from bot.roles import CONVENORS, INVITED
from bot.services import experts, session_status, sessions
from bot.services.sessions import Notice
from bot.text import normalize
from storage.models import ConsultSession

CLEAR_WORDS = frozenset({"清空", "删除", "无", "没有"})


def cmd_expertise(ctx: Ctx, rest: str) -> list[str]:
    """专长 交通 规划：登记自己的专长，召集人安排协商时可能邀请您（只发「专长」查看，「专长 清空」删除）。"""
    if not rest.strip():
        tags = experts.tags_of(ctx.person)
        if not tags:
            return ["您还没有登记专长。发「专长 交通 规划」这样的几个词登记，召集人安排相关协商时可能邀请您。"]
        return [f"您登记的专长：{'、'.join(tags)}。发「专长 新的词」可以改，「专长 清空」删除。"]
    if normalize(rest) in CLEAR_WORDS:
        experts.set_tags(ctx.person, [])
        return ["已删除您登记的专长。"]
    tags = experts.parse_tags(rest)
    if not tags:
        return [f"专长请写 2 到 {experts.MAX_TAG_LENGTH} 个字的词，用空格隔开，如「专长 交通 规划」。"]
    experts.set_tags(ctx.person, tags)
    return [f"已登记您的专长：{'、'.join(tags)}。召集人安排相关议题的协商时，可能会邀请您参加。"]


def offer(ctx: Ctx, consult: ConsultSession) -> list[str]:
    """直通车 after 新建协商: up to five matching people of the district, as an open question (or nothing)."""
    found = experts.suggest(ctx.session, consult=consult)
    if not found:
        return []
    items = [[e.person_id, e.name, e.room, "、".join(e.tags.split())] for e in found]
    return ctx.dialogs.start("experts", {"session_id": consult.id, "items": items})


def invite_experts(ctx: Ctx, data: Data) -> list[str]:
    """Effect of the 直通车 question: the picked people invited like every invitee."""
    consult = ctx.session.get(ConsultSession, int(data["session_id"]))
    rooms = {r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person_id)}
    if consult is None or consult.room_id not in rooms:
        return ["没有找到这个会议，或您已不是它的召集人，没有邀请。"]
    if session_status.phase_of(consult, ctx.now) != session_status.Phase.scheduled:
        return [f"会议 {consult.id} 已经开始、结束或取消了，没有邀请。"]
    picked = [int(i) for i in data.get("picks") or []]
    added = sessions.add_guests(
        ctx.session, consult=consult, person_ids=picked, now=ctx.now, notice=Notice.of(ctx.settings)
    )
    names = {int(str(e[0])): str(e[1]) for e in data.get("items") or []}
    if not added:
        return [f"他们已经在会议 {consult.id} 的受邀人里了。"]
    listed = "、".join(names.get(pid, str(pid)) for pid in added)
    return [f"已邀请 {listed} 参加会议 {consult.id}，并发出了协商通知；会前提醒也会发给他们。"]


EFFECTS = {"invite_experts": invite_experts}

COMMANDS: list[Command] = [
    Command(
        "专长",
        ("专长", "我的专长", "登记专长"),
        cmd_expertise,
        "如「专长 交通 规划」：登记您的专长",
        roles=INVITED | CONVENORS,
    ),
]
