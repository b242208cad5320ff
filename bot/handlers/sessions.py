"""Session commands: 新建协商, 改期, 取消会议, 出席情况 (convenors); 我的会议, 参加, 请假 (anyone invited).

The effects of the session dialogs live here too; they do the writes in the message's transaction.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from bot.context import Ctx
from bot.dialogs.engine import Data
from bot.handlers.registry import Command
from bot.roles import CONVENORS, INVITED
from bot.services import rsvp, sessions, staff_notices
from bot.services.session_invitees import invitees_of
from bot.services.session_notices import ahead_text, when_text
from bot.services.sessions import NewSession, Notice
from bot.services.timeparse import parse_when
from bot.text import shorten
from storage.models import ConsultSession, SessionInvitee

SESSION_NUMBER = re.compile(r"^\s*(?:第|编号|会议)?\s*(\d{1,9})\s*(?:号|场)?(?:\s+|$)(.*)$", re.S)
MAX_LISTED = 10


def _notice(ctx: Ctx) -> Notice:
    s = ctx.settings
    return Notice(
        tz=s.timezone,
        base_url=s.public_base_url,
        offsets=list(s.reminder_offsets),
        secret=s.secret_key.get_secret_value(),
    )


def _base(ctx: Ctx) -> Data:
    return {"now": ctx.now.isoformat(), "tz": ctx.settings.timezone, "convenor_id": ctx.person.id}


def cmd_new_session(ctx: Ctx, _rest: str) -> list[str]:
    """新建协商：安排一次协商活动（议题、时间、地点、形式、邀请人），到时自动提醒。"""
    rooms = sessions.convened_rooms(ctx.session, person_id=ctx.person.id)
    data = _base(ctx)
    data["rooms"] = [[r.id, r.name] for r in rooms]
    data["topics_by_room"] = {
        str(r.id): [
            [p.id, p.receipt or "", shorten(p.description, 30)]
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
    rooms = {r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person.id)}
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
    """取消会议 会议编号：取消一次协商活动，通知所有受邀人，不再发提醒。"""
    found = _own_session(ctx, rest, "请发送「取消会议 会议编号」，如：取消会议 3。发「我的会议」可查看会议编号。")
    if isinstance(found, list):
        return found
    consult, _ = found
    old = when_text(consult.starts_at, ctx.settings.timezone)
    return ctx.dialogs.start(
        "cancel_session", {**_base(ctx), "session_id": consult.id, "title": consult.title, "old_when": old}
    )


def cmd_tally(ctx: Ctx, rest: str) -> list[str]:
    """出席情况 [会议编号]：看受邀人谁参加、谁请假、谁还没回复。"""
    rooms = [r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person.id)]
    upcoming = sessions.upcoming_in_rooms(ctx.session, room_ids=rooms, now=ctx.now)
    match = SESSION_NUMBER.match(rest or "")
    if match is not None:
        consult = ctx.session.get(ConsultSession, int(match.group(1)))
        if consult is None or consult.room_id not in rooms:
            return [f"没有找到您议事室的会议 {match.group(1)}。"]
        chosen = [consult]
    else:
        chosen = upcoming[:3]
    if not chosen:
        return ["您的议事室目前没有即将举行的协商活动。发「新建协商」可以安排一次。"]
    tz = ctx.settings.timezone
    blocks = [
        f"会议 {c.id}「{c.title}」{when_text(c.starts_at, tz)}\n"
        + rsvp.tally_text(rsvp.tally(ctx.session, session_id=c.id))
        for c in chosen
    ]
    return ["\n\n".join(blocks)]


def cmd_my_sessions(ctx: Ctx, _rest: str) -> list[str]:
    """我的会议：我受邀的和我召集的、还没开始的协商活动。"""
    tz = ctx.settings.timezone
    invited = sessions.upcoming_for(ctx.session, person_id=ctx.person.id, now=ctx.now)
    rooms = [r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person.id)]
    convened = [c for c in sessions.upcoming_in_rooms(ctx.session, room_ids=rooms, now=ctx.now) if c not in invited]
    if not invited and not convened:
        return ["您目前没有即将举行的协商活动。有新的安排时会通知您。"]
    lines = ["您即将参加的协商活动："] if invited else []
    for consult in invited[:MAX_LISTED]:
        invitee = ctx.session.get(SessionInvitee, (consult.id, ctx.person.id))
        answer = rsvp.RSVP_NAMES.get(invitee.rsvp if invitee else "pending", "未回复")
        lines.append(
            f"· 会议 {consult.id}：{when_text(consult.starts_at, tz)}\n"
            f"  议题：{shorten(consult.title, 30)}\n  地点：{consult.place}｜您的回复：{answer}"
        )
    if convened:
        lines.append("您召集的协商活动：")
        for consult in convened[:MAX_LISTED]:
            result = rsvp.tally(ctx.session, session_id=consult.id)
            lines.append(
                f"· 会议 {consult.id}：{when_text(consult.starts_at, tz)}\n  议题：{shorten(consult.title, 30)}\n"
                f"  受邀 {result.total} 人，参加 {len(result.attend)}，请假 {len(result.leave)}"
            )
    if len(invited) == 1:
        lines.append("回复「参加」或「请假 理由」答复。")
    elif invited:
        lines.append(f"回复「参加」或「请假 理由」答复最近的一场；答复其他场请加编号，如「参加 {invited[1].id}」。")
    return ["\n".join(lines)]


def cmd_attend(ctx: Ctx, rest: str) -> list[str]:
    """参加：答复最近一场受邀的协商活动（可加会议编号）。"""
    return _answer(ctx, rest, attend=True)


def cmd_leave(ctx: Ctx, rest: str) -> list[str]:
    """请假 理由：不能参加最近一场受邀的协商活动（可加会议编号）。"""
    return _answer(ctx, rest, attend=False)


def _answer(ctx: Ctx, rest: str, *, attend: bool) -> list[str]:
    upcoming = sessions.upcoming_for(ctx.session, person_id=ctx.person.id, now=ctx.now)
    if not upcoming:
        return ["您目前没有受邀的、尚未开始的协商活动，不需要答复。发「我的会议」可查看。"]
    target = upcoming[0]
    match = SESSION_NUMBER.match(rest or "")
    if match is not None:
        numbered = next((c for c in upcoming if c.id == int(match.group(1))), None)
        if numbered is not None:
            target, rest = numbered, match.group(2)
    invitee = ctx.session.get(SessionInvitee, (target.id, ctx.person.id))
    assert invitee is not None  # upcoming_for joins on the invitation
    reason = rest.strip()[:200] or None
    rsvp.answer(ctx.session, invitee=invitee, attend=attend, reason=reason, now=ctx.now)
    when = when_text(target.starts_at, ctx.settings.timezone)
    if attend:
        reply = f"已登记：您将参加会议 {target.id}「{shorten(target.title, 30)}」，{when}，地点：{target.place}。"
    else:
        why = f"（理由：{reason}）" if reason else ""
        reply = f"已为您登记请假{why}：会议 {target.id}「{shorten(target.title, 30)}」，{when}。"
        who = rsvp.display_name(ctx.person)
        line = f"请假：会议 {target.id}「{shorten(target.title, 20)}」{who}（{reason or '没有写理由'}）"
        staff_notices.tell(
            ctx.session,
            room_id=target.room_id,
            line=line,
            key=f"leave:{target.id}:{ctx.person.id}:{int(ctx.now.timestamp())}",
            now=ctx.now,
            settings=ctx.settings,
        )
    if len(upcoming) > 1:
        others = [c.id for c in upcoming if c.id != target.id]
        listed = "、".join(str(i) for i in others)
        reply += f"\n您还受邀参加会议 {listed}；答复那一场请加编号，如「参加 {others[0]}」。"
    return [reply]


# --- effects of the session dialogs -----------------------------------------------------------


def create_session(ctx: Ctx, data: Data) -> list[str]:
    starts_at = datetime.fromisoformat(str(data["starts_at"]))
    if starts_at <= ctx.now:
        return ["这个时间已经过去了，会议没有创建。请重新发「新建协商」。"]
    room_id = int(data["room_id"])
    if room_id not in {r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person.id)}:
        return ["您已不是这个议事室的召集人，会议没有创建。"]
    topic_ids = [int(i) for i in data.get("topic_ids") or []]
    available = {p.id for p in sessions.approved_topics(ctx.session, room_id=room_id)}
    if not set(topic_ids) <= available:
        return ["所选议题中有的已安排到别的会议或状态有变，会议没有创建。请重新发「新建协商」选择议题。"]
    consult = sessions.create(
        ctx.session,
        new=NewSession(
            room_id=room_id,
            convenor_id=ctx.person.id,
            starts_at=starts_at,
            place=str(data["place"]),
            format=str(data["format"]),
            scope=str(data["scope"]),
            title=str(data.get("title") or ""),
            topic_ids=topic_ids,
            extra_ids=[int(i) for i in data.get("extra_ids") or []],
            materials_url=data.get("materials_url") or None,
        ),
        now=ctx.now,
        notice=_notice(ctx),
    )
    count = len(invitees_of(ctx.session, session_id=consult.id))
    return [
        f"已创建会议 {consult.id}：{when_text(consult.starts_at, ctx.settings.timezone)}「{shorten(consult.title, 30)}」。\n"
        f"已通知 {count} 位受邀人；{_reminders_ahead(ctx, consult.starts_at)}\n"
        f"发「出席情况 {consult.id}」看答复，「改期 {consult.id} 新时间」或「取消会议 {consult.id}」调整。"
    ]


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
    rooms = {r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person.id)}
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
        ctx.session, consult=consult, starts_at=starts_at, actor_id=ctx.person.id, now=ctx.now, notice=_notice(ctx)
    )
    count = len(invitees_of(ctx.session, session_id=consult.id))
    return [
        f"会议 {consult.id} 已改到 {when_text(starts_at, ctx.settings.timezone)}。已通知 {count} 位受邀人；"
        f"{_reminders_ahead(ctx, starts_at)}"
    ]


def cancel_session(ctx: Ctx, data: Data) -> list[str]:
    consult = _reload(ctx, data)
    if isinstance(consult, str):
        return [consult]
    sessions.cancel(ctx.session, consult=consult, actor_id=ctx.person.id, now=ctx.now, tz=ctx.settings.timezone)
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
    Command("取消会议", ("取消会议", "取消协商"), cmd_cancel, "如「取消会议 1」", roles=CONVENORS),
    Command(
        "出席情况",
        ("出席情况", "答复情况", "统计出席", "出席统计"),
        cmd_tally,
        "看受邀人的参加、请假情况",
        roles=CONVENORS,
    ),
    Command(
        "我的会议",
        ("我的会议", "我的协商", "近期会议", "我的会"),
        cmd_my_sessions,
        "即将举行的协商活动",
        listed_for=INVITED | CONVENORS,
    ),
    Command(
        "参加", ("参加", "我参加", "能参加", "可以参加", "准时参加"), cmd_attend, "答复会议：参加", listed_for=INVITED
    ),
    Command(
        "请假",
        ("请假", "不参加", "不能参加", "来不了", "去不了"),
        cmd_leave,
        "如「请假 出差」：答复不能参加",
        listed_for=INVITED,
    ),
]
