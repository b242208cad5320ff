"""履职: 我的履职 (members and representatives: their record this year) and 到会 (a convenor marks who came).

The rules (attended, excused, absent; contributions; stars) live in `bot/services/records.py`.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from bot.context import Ctx
from bot.handlers.attendance import SESSION_NUMBER
from bot.handlers.registry import Command
from bot.roles import CONVENORS, INVITED
from bot.services import records, session_status, sessions
from bot.services.session_invitees import invitee_names, invitees_of
from bot.services.session_notices import when_text
from bot.text import shorten
from storage.models import ConsultSession

MAX_LISTED = 10
NAME_SPLIT = re.compile(r"[\s,，、和及;；]+")
MARK_USAGE = "请发送「到会 会议编号 名字或序号」，如：到会 3 王芳 李强，或 到会 3 1 2 5。发「我的会议」可查看会议编号。"


def cmd_my_record(ctx: Ctx, _rest: str) -> list[str]:
    """我的履职：今年以来受邀、参加、请假的协商活动，荐题、清单建议和回应，以及星级。"""
    tz = ctx.settings.timezone
    year = ctx.now.astimezone(ZoneInfo(tz)).year
    found = records.records(ctx.session, year=year, tz=tz, now=ctx.now, person_ids=[ctx.person_id])
    if not found:
        return ["您目前不是任何议事室的委员或群众代表，没有履职记录。"]
    mine = found[0]
    rate = f"，出席率 {mine.rate:.0%}" if mine.rate is not None else ""
    lines = [
        f"您 {year} 年的履职记录（截至 {ctx.now.astimezone(ZoneInfo(tz)):%m月%d日}）：",
        f"· 受邀协商 {mine.invited} 次：参加 {mine.attended}，请假 {mine.excused}，缺席 {mine.absent}{rate}",
        f"· 委员荐题 {mine.topics} 条，清单建议 {mine.list_suggestions} 条，回应建言 {mine.answers} 条",
        f"· 星级：{records.stars_text(mine.stars)}"
        + ("（还没有举行过邀请您的协商活动）" if mine.stars is None else ""),
    ]
    if mine.sessions:
        lines.append("举行过的协商活动：")
        lines += [
            f"· 会议 {a.session_id}「{shorten(a.title, 20)}」{when_text(a.starts_at, tz)}：{records.OUTCOME_NAMES[a.outcome]}"
            for a in mine.sessions[-MAX_LISTED:]
        ]
    return ["\n".join(lines)]


def cmd_mark_present(ctx: Ctx, rest: str) -> list[str]:
    """到会 会议编号 名字…：会后登记实际到会的人（没登记的受邀人算缺席，请假的仍算请假）。"""
    match = SESSION_NUMBER.match(rest or "")
    if match is None:
        return [MARK_USAGE]
    consult = ctx.session.get(ConsultSession, int(match.group(1)))
    rooms = {r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person_id)}
    if consult is None or consult.room_id not in rooms:
        return [f"没有找到您议事室的会议 {match.group(1)}。发「我的会议」可查看会议编号。"]
    phase = session_status.phase_of(consult, ctx.now)
    if phase == session_status.Phase.cancelled:
        return [f"会议 {consult.id} 已经取消了，不用登记到会。"]
    if phase == session_status.Phase.scheduled:
        return [f"会议 {consult.id} 还没有开始。开始以后再登记到会的人。"]
    invited = invitees_of(ctx.session, session_id=consult.id)
    names = invitee_names(ctx.session, session_id=consult.id)
    words = [w for w in NAME_SPLIT.split(match.group(2)) if w]
    if not words:
        listed = [f"{n}. {names[i.person_id]}{'（已登记到会）' if i.present else ''}" for n, i in enumerate(invited, 1)]
        return [
            f"会议 {consult.id}「{shorten(consult.title, 20)}」的受邀人：\n" + "\n".join(listed) + f"\n{MARK_USAGE}"
        ]
    picked: list[int] = []
    unknown: list[str] = []
    for word in words:
        if word.isdigit() and 1 <= int(word) <= len(invited):
            picked.append(invited[int(word) - 1].person_id)
            continue
        same = [i.person_id for i in invited if names[i.person_id] == word]
        if len(same) == 1:
            picked.append(same[0])
        else:
            unknown.append(word)
    if unknown:
        return [
            f"会议 {consult.id} 的受邀人里没有「{'、'.join(unknown)}」，这次什么也没有登记。"
            f"发「到会 {consult.id}」看受邀人和序号。"
        ]
    records.mark_present(ctx.session, consult=consult, person_ids=picked, now=ctx.now)
    came = [names[i.person_id] for i in invited if i.present]
    away = [names[i.person_id] + ("（请假）" if i.rsvp == "leave" else "") for i in invited if not i.present]
    reply = f"已登记会议 {consult.id}「{shorten(consult.title, 20)}」到会 {len(came)} 人：{'、'.join(came)}。"
    if away:
        reply += f"\n未到 {len(away)} 人：{'、'.join(away)}。后来核实到会的，可再发「到会 {consult.id} 名字」补登。"
    return [reply]


COMMANDS: list[Command] = [
    Command(
        "我的履职",
        ("我的履职", "履职", "履职档案", "我的档案", "履职情况"),
        cmd_my_record,
        "今年以来的出席、荐题、建议和星级",
        roles=INVITED,
    ),
    Command(
        "到会",
        ("到会", "登记到会", "到会登记"),
        cmd_mark_present,
        "如「到会 3 王芳」：会后登记实到的人",
        roles=CONVENORS,
    ),
]
