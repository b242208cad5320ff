"""Who comes to a session: 我的会议, 参加, 请假 (anyone invited) and 出席情况 (convenors).

Each session is shown with where it stands (已安排 / 进行中 / 已举行 / 已取消, `session_status`).
"""

from __future__ import annotations

import re

from bot.context import Ctx
from bot.handlers.registry import Command
from bot.roles import CONVENORS, INVITED
from bot.services import rsvp, session_status, session_views, sessions, staff_notices
from bot.services.session_notices import span_text, when_text
from bot.text import shorten
from storage.models import ConsultSession, SessionInvitee

SESSION_NUMBER = re.compile(r"^\s*(?:第|编号|会议)?\s*(\d{1,9})\s*(?:号|场)?(?:\s+|$)(.*)$", re.S)
MAX_LISTED = 10


def _heading(ctx: Ctx, consult: ConsultSession) -> str:
    """`· 会议 3：2026年12月3日 15:00（星期四）至 17:00｜已安排`."""
    when = span_text(consult.starts_at, consult.ends_at, ctx.settings.timezone)
    return f"· 会议 {consult.id}：{when}｜{session_status.name_of(consult, ctx.now)}"


def cmd_tally(ctx: Ctx, rest: str) -> list[str]:
    """出席情况 [会议编号]：看受邀人谁参加、谁请假、谁还没回复。"""
    rooms = [r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person_id)]
    upcoming = session_views.upcoming_in_rooms(ctx.session, room_ids=rooms, now=ctx.now)
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
        f"会议 {c.id}「{c.title}」{span_text(c.starts_at, c.ends_at, tz)}｜{session_status.name_of(c, ctx.now)}\n"
        + rsvp.tally_text(rsvp.tally(ctx.session, session_id=c.id))
        for c in chosen
    ]
    return ["\n\n".join(blocks)]


def cmd_my_sessions(ctx: Ctx, _rest: str) -> list[str]:
    """我的会议：我受邀的和我召集的协商活动，即将举行的和最近举行过、取消了的。"""
    invited = session_views.upcoming_for(ctx.session, person_id=ctx.person_id, now=ctx.now)
    rooms = [r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person_id)]
    convened = [
        c for c in session_views.upcoming_in_rooms(ctx.session, room_ids=rooms, now=ctx.now) if c not in invited
    ]
    recent = [
        c
        for c in session_views.recent_for(ctx.session, person_id=ctx.person_id, room_ids=rooms, now=ctx.now)
        if c not in invited and c not in convened
    ]
    lines = []
    if not invited and not convened:
        lines.append("您目前没有即将举行的协商活动。有新的安排时会通知您。")
    if invited:
        lines.append("您即将参加的协商活动：")
    for consult in invited[:MAX_LISTED]:
        invitee = ctx.session.get(SessionInvitee, (consult.id, ctx.person_id))
        answer = rsvp.RSVP_NAMES.get(invitee.rsvp if invitee else "pending", "未回复")
        lines.append(
            f"{_heading(ctx, consult)}\n"
            f"  议题：{shorten(consult.title, 30)}\n  地点：{consult.place}｜您的回复：{answer}"
        )
    if convened:
        lines.append("您召集的协商活动：")
        for consult in convened[:MAX_LISTED]:
            result = rsvp.tally(ctx.session, session_id=consult.id)
            lines.append(
                f"{_heading(ctx, consult)}\n  议题：{shorten(consult.title, 30)}\n"
                f"  受邀 {result.total} 人，参加 {len(result.attend)}，请假 {len(result.leave)}"
            )
    if recent:
        lines.append(f"最近 {session_views.RECENT.days} 天举行过或取消了的：")
        for consult in recent:
            why = f"\n  取消原因：{consult.cancel_reason}" if consult.cancel_reason else ""
            lines.append(f"{_heading(ctx, consult)}\n  议题：{shorten(consult.title, 30)}{why}")
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
    upcoming = session_views.upcoming_for(ctx.session, person_id=ctx.person_id, now=ctx.now)
    if not upcoming:
        return ["您目前没有受邀的、尚未开始的协商活动，不需要答复。发「我的会议」可查看。"]
    target = upcoming[0]
    match = SESSION_NUMBER.match(rest or "")
    if match is not None:
        numbered = next((c for c in upcoming if c.id == int(match.group(1))), None)
        if numbered is not None:
            target, rest = numbered, match.group(2)
    invitee = ctx.session.get(SessionInvitee, (target.id, ctx.person_id))
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
            key=f"leave:{target.id}:{ctx.person_id}:{int(ctx.now.timestamp())}",
            now=ctx.now,
            settings=ctx.settings,
        )
    if len(upcoming) > 1:
        others = [c.id for c in upcoming if c.id != target.id]
        listed = "、".join(str(i) for i in others)
        reply += f"\n您还受邀参加会议 {listed}；答复那一场请加编号，如「参加 {others[0]}」。"
    return [reply]


COMMANDS: list[Command] = [
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
        "即将举行的和最近的协商活动",
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
