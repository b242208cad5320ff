"""Session commands: 新建协商, 改期, 取消会议 (convenors); 出席情况, 我的会议, 参加, 请假 are in `attendance`.

The effects of the session dialogs live here too; they do the writes in the message's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.context import Ctx
from bot.dialogs.engine import Data
from bot.dialogs.session_change import read_reason
from bot.handlers import attendance, experts
from bot.handlers.attendance import SESSION_NUMBER
from bot.handlers.registry import Command
from bot.roles import CONVENORS
from bot.services import sessions
from bot.services.session_invitees import invitees_of
from bot.services.session_notices import ahead_text, span_text, topic_name, when_text
from bot.services.sessions import NewSession, Notice
from bot.services.timeparse import parse_when
from bot.text import shorten
from storage.models import ConsultSession


def _notice(ctx: Ctx) -> Notice:
    return Notice.of(ctx.settings)


def _base(ctx: Ctx) -> Data:
    return {"now": ctx.now.isoformat(), "tz": ctx.settings.timezone, "convenor_id": ctx.person_id}


def cmd_new_session(ctx: Ctx, _rest: str) -> list[str]:
    """新建协商：安排一次协商活动（议题、时间、地点、形式、邀请人），到时自动提醒。"""
    rooms = sessions.convened_rooms(ctx.session, person_id=ctx.person_id)
    data = _base(ctx)
    data["rooms"] = [[r.id, r.name] for r in rooms]
    data["topics_by_room"] = {
        str(r.id): [
            [p.id, p.receipt or "", topic_name(p.description)]
            for p in sessions.approved_topics(ctx.session, room_id=r.id)
        ]
        for r in rooms
    }
    if len(rooms) == 1:
        data.update(room_id=rooms[0].id, room_name=rooms[0].name)
    return ctx.dialogs.start("session", data)


def _own_session(ctx: Ctx, rest: str, usage: str) -> tuple[ConsultSession, str] | list[str]:
    """The scheduled, not yet begun session numbered in `rest`, in a room this convenor convenes."""
    match = SESSION_NUMBER.match(rest or "")
    if match is None:
        return [usage]
    consult = ctx.session.get(ConsultSession, int(match.group(1)))
    rooms = {r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person_id)}
    if consult is None or consult.room_id not in rooms:
        return [f"没有找到您议事室的会议 {match.group(1)}。发「我的会议」可查看会议编号。"]
    if consult.status != "scheduled":
        return [f"会议 {consult.id} 已经取消了。"]
    if consult.starts_at <= ctx.now:
        return [f"会议 {consult.id} 已经开始或结束，不能再改期或取消。"]
    return consult, match.group(2).strip()


def cmd_move(ctx: Ctx, rest: str) -> list[str]:
    """改期 会议编号 新时间：把会议改到新的时间，通知所有受邀人，提醒随之改期。"""
    found = _own_session(
        ctx, rest, "请发送「改期 会议编号 新时间」，如：改期 3 12月5日下午3点。发「我的会议」可查看会议编号。"
    )
    if isinstance(found, list):
        return found
    consult, when = found
    tz = ctx.settings.timezone
    data = {
        **_base(ctx),
        "session_id": consult.id,
        "title": consult.title,
        "old_when": when_text(consult.starts_at, tz),
    }
    if when:
        result = parse_when(when, now=ctx.now, tz=tz)
        if isinstance(result, datetime):
            if result == consult.starts_at:
                return [f"会议 {consult.id} 本来就在 {when_text(result, tz)}，不用改期。"]
            data["starts_at"] = result.isoformat()
        else:
            data.update(time_pending=when, time_question=result.question)
    return ctx.dialogs.start("move_session", data)


def cmd_cancel(ctx: Ctx, rest: str) -> list[str]:
    """取消会议 会议编号 [原因]：取消一次协商活动，把原因通知所有受邀人，不再发提醒。"""
    found = _own_session(
        ctx, rest, "请发送「取消会议 会议编号 原因」，如：取消会议 3 场地临时维修。发「我的会议」可查看会议编号。"
    )
    if isinstance(found, list):
        return found
    consult, typed_reason = found
    old = when_text(consult.starts_at, ctx.settings.timezone)
    data = {**_base(ctx), "session_id": consult.id, "title": consult.title, "old_when": old}
    reason = read_reason(typed_reason)
    if reason is not None:  # written with the command: straight to the preview
        data["reason"] = reason
    return ctx.dialogs.start("cancel_session", data)


# --- effects of the session dialogs -----------------------------------------------------------


def create_session(ctx: Ctx, data: Data) -> list[str]:
    starts_at = datetime.fromisoformat(str(data["starts_at"]))
    if starts_at <= ctx.now:
        return ["这个时间已经过去了，会议没有创建。请重新发「新建协商」。"]
    room_id = int(data["room_id"])
    if room_id not in {r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person_id)}:
        return ["您已不是这个议事室的召集人，会议没有创建。"]
    topic_ids = [int(i) for i in data.get("topic_ids") or []]
    available = {p.id for p in sessions.approved_topics(ctx.session, room_id=room_id)}
    if not set(topic_ids) <= available:
        return ["所选议题中有的已安排到别的会议或状态有变，会议没有创建。请重新发「新建协商」选择议题。"]
    consult = sessions.create(
        ctx.session,
        new=NewSession(
            room_id=room_id,
            convenor_id=ctx.person_id,
            starts_at=starts_at,
            place=str(data["place"]),
            format=str(data["format"]),
            scope=str(data["scope"]),
            title=str(data.get("title") or ""),
            ends_at=datetime.fromisoformat(str(data["ends_at"])) if data.get("ends_at") else None,
            topic_ids=topic_ids,
            extra_ids=[int(i) for i in data.get("extra_ids") or []],
            materials_url=data.get("materials_url") or None,
        ),
        now=ctx.now,
        notice=_notice(ctx),
    )
    count = len(invitees_of(ctx.session, session_id=consult.id))
    created = [
        f"已创建会议 {consult.id}：{span_text(consult.starts_at, consult.ends_at, ctx.settings.timezone)}"
        f"「{shorten(consult.title, 30)}」。\n"
        f"已通知 {count} 位受邀人；{_reminders_ahead(ctx, consult.starts_at)}\n"
        f"发「出席情况 {consult.id}」看答复，「改期 {consult.id} 新时间」或「取消会议 {consult.id}」调整。"
    ]
    return [*created, *experts.offer(ctx, consult)]


def _reminders_ahead(ctx: Ctx, starts_at: datetime) -> str:
    """What the reminders will do: only offsets still ahead are promised (a session in 4 minutes gets none)."""
    ahead = [o for o in ctx.settings.reminder_offsets if starts_at - o > ctx.now]
    if not ahead:
        return "离开始太近，来不及发会前提醒了，请直接联系受邀人。"
    return f"会前 {'、'.join(ahead_text(o.total_seconds()) for o in sorted(ahead, reverse=True))}会自动提醒。"


def _reload(ctx: Ctx, data: Data) -> ConsultSession | str:
    consult = ctx.session.scalars(
        select(ConsultSession).where(ConsultSession.id == int(data["session_id"])).with_for_update(of=ConsultSession)
    ).first()
    rooms = {r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person_id)}
    if consult is None or consult.room_id not in rooms:
        return "没有找到这个会议，或您已不是它的召集人。"
    if consult.status != "scheduled":
        return f"会议 {consult.id} 已经取消了。"
    if consult.starts_at <= ctx.now:
        return f"会议 {consult.id} 已经开始或结束，不能再改期或取消。"
    return consult


def move_session(ctx: Ctx, data: Data) -> list[str]:
    consult = _reload(ctx, data)
    if isinstance(consult, str):
        return [consult]
    starts_at = datetime.fromisoformat(str(data["starts_at"]))
    if starts_at <= ctx.now:
        return ["新的时间已经过去了，没有改期。请重新发「改期 会议编号 新时间」。"]
    sessions.move(
        ctx.session, consult=consult, starts_at=starts_at, actor_id=ctx.person_id, now=ctx.now, notice=_notice(ctx)
    )
    count = len(invitees_of(ctx.session, session_id=consult.id))
    return [
        f"会议 {consult.id} 已改到 {when_text(starts_at, ctx.settings.timezone)}。"
        f"已通知 {count} 位受邀人重新答复参加或请假；"
        f"{_reminders_ahead(ctx, starts_at)}"
    ]


def cancel_session(ctx: Ctx, data: Data) -> list[str]:
    consult = _reload(ctx, data)
    if isinstance(consult, str):
        return [consult]
    sessions.cancel(
        ctx.session,
        consult=consult,
        actor_id=ctx.person_id,
        reason=str(data["reason"]),
        now=ctx.now,
        tz=ctx.settings.timezone,
    )
    count = len(invitees_of(ctx.session, session_id=consult.id))
    return [f"会议 {consult.id} 已取消。已通知 {count} 位受邀人，会前提醒不再发送；议题回到「已审定」，可重新安排。"]


EFFECTS = {"create_session": create_session, "move_session": move_session, "cancel_session": cancel_session}

COMMANDS: list[Command] = [
    Command(
        "新建协商",
        ("新建协商", "新建会议", "安排协商", "新协商", "召开协商", "新建协商活动"),
        cmd_new_session,
        "安排一次协商活动，自动通知和提醒受邀人",
        roles=CONVENORS,
    ),
    Command("改期", ("改期", "会议改期"), cmd_move, "如「改期 1 12月10日下午3点」", roles=CONVENORS),
    Command("取消会议", ("取消会议", "取消协商"), cmd_cancel, "如「取消会议 1 场地临时维修」", roles=CONVENORS),
    *attendance.COMMANDS,
]
