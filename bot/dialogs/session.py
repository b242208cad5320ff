"""新建协商 (schedule a session), 改期 and 取消会议: a convenor's dialogs, declared as data.

The handler that starts them puts the convenor's rooms, each room's approved topics and the time
the dialog began (`now`, for reading `明天`) into the data, so steps stay free of the database and
the numbers a convenor answers with stay the numbers shown.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from bot.dialogs.common import confirm_hint, confirm_step, said_confirm, typed, until_filled
from bot.dialogs.engine import Data, Dialog, Finish, Goto, Lookups, Outcome, Retry, Step
from bot.incoming import Incoming
from bot.services.session_invitees import SCOPE_NAMES, SCOPES, warnings
from bot.services.session_notices import FORMAT_NAMES, FORMATS, when_text
from bot.services.timeparse import Ambiguous, parse_when
from bot.text import choose, numbered

TZ_KEY = "tz"
SHORT = 6  # an answer this short (下午, 明天) completes the last try rather than replacing it
NUMBERS = re.compile(r"^[\d\s,，、和及]+$")
EXTRA = re.compile(r"另加|另外加|加上|还有")
NAME_SPLIT = re.compile(r"[\s,，、和及;；]+")
FORMAT_ALIASES = [
    ("开会", "会议协商", "座谈", "座谈会"),
    ("实地", "现场协商", "线下", "现场议事"),
    ("线上", "网上", "视频", "网络协商", "在线"),
]
SCOPE_ALIASES = [("全部", "都选", "委员和代表", "所有人", "全体"), ("委员",), ("代表", "群众代表")]


class S(StrEnum):
    room = "session:room"
    topics = "session:topics"
    time = "session:time"
    place = "session:place"
    form = "session:format"
    invitees = "session:invitees"
    materials = "session:materials"
    confirm = "session:confirm"


def _rooms(data: Data) -> list[list[object]]:
    return list(data.get("rooms") or [])


def ask_room(data: Data, _lookups: Lookups) -> str:
    names = [str(r[1]) for r in _rooms(data)]
    return f"您是几个议事室的召集人。这次协商属于哪个议事室？请回复序号：\n{numbered(names)}"


def room(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    rooms = _rooms(data)
    index = choose(msg.text, [str(r[1]) for r in rooms]) if msg.kind == "text" else None
    if index is None:
        return Retry(f"请回复 1 到 {len(rooms)} 之间的序号。")
    return Goto(S.topics, {"room_id": rooms[index][0], "room_name": rooms[index][1]})


def _topics(data: Data) -> list[list[object]]:
    return list((data.get("topics_by_room") or {}).get(str(data.get("room_id")), []))


def ask_topics(data: Data, _lookups: Lookups) -> str:
    topics = _topics(data)
    if not topics:
        return "本议事室目前没有已审定的议题。请直接输入这次协商的议题名称（如「幸福路路灯维修」）。"
    lines = [f"{t[1]}：{t[2]}" for t in topics]
    return (
        "这次协商哪些议题？已审定的议题有：\n"
        f"{numbered(lines)}\n"
        "请回复序号，可以选几个，用空格隔开（如「1 3」）；也可以直接输入一个议题名称。"
    )


def topics(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    text = typed(msg)
    options = _topics(data)
    if options and NUMBERS.match(text):
        picked = [int(n) for n in re.findall(r"\d+", text)]
        wrong = [n for n in picked if not 1 <= n <= len(options)]
        if wrong or not picked:
            return Retry(
                f"没有序号 {wrong[0] if wrong else text}。请回复 1 到 {len(options)} 之间的序号，可用空格隔开。"
            )
        chosen = [options[n - 1] for n in dict.fromkeys(picked)]
        label = "；".join(str(t[2]) for t in chosen)
        return Goto(S.time, {"topic_ids": [t[0] for t in chosen], "title": "", "topic_label": label})
    if len(text) < 4 or len(text) > 100 or NUMBERS.match(text):
        hint = "回复序号选择已审定的议题，或" if options else ""
        return Retry(f"请{hint}输入议题名称（4 到 100 个字）。")
    return Goto(S.time, {"topic_ids": [], "title": text, "topic_label": text})


def _now(data: Data) -> datetime:
    return datetime.fromisoformat(str(data["now"]))


def ask_time(data: Data, _lookups: Lookups) -> str:
    if data.get("time_question"):
        return str(data["time_question"])
    return "什么时候开始？例如「12月3日下午3点」「明天上午9点」「下周二14:30」「2026-12-03 15:00」。"


def read_time(data: Data, msg: Incoming, this_state: str, next_state: str) -> Outcome:
    """A time, or the question that settles it; a short answer to that question completes the last try."""
    text = typed(msg)
    if not text:
        return Retry("请用文字写出日期和时间，例如「12月3日下午3点」。")
    tz = str(data.get(TZ_KEY) or "Asia/Shanghai")
    pending = str(data.get("time_pending") or "")
    result = parse_when(text, now=_now(data), tz=tz)
    kept = text
    if isinstance(result, Ambiguous) and pending:
        combined = parse_when(f"{pending} {text}", now=_now(data), tz=tz)
        # The answer completes the earlier try, unless it is a fresh try of its own (long, or itself a partial).
        if isinstance(combined, datetime) or combined.partial or (not result.partial and len(text) <= SHORT):
            result, kept = combined, f"{pending} {text}"
    if isinstance(result, Ambiguous):
        # Stay on this step, asking the question; a short answer that follows completes `kept`.
        updates = {"time_pending": kept if result.partial else None, "time_question": result.question}
        return Goto(this_state, updates)
    return Goto(
        next_state,
        {"starts_at": result.isoformat(), "time_pending": None, "time_question": None},
        note=f"时间：{when_text(result, tz)}",
    )


def time_step_handle(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    return read_time(data, msg, S.time, S.place)


def ask_place(_data: Data, _lookups: Lookups) -> str:
    return "在哪里举行？请写地点（如「社区二楼会议室」；网络协商可写「线上」或会议号）。"


def place(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    text = typed(msg)
    if len(text) < 2 or len(text) > 100:
        return Retry("请写出地点，2 到 100 个字，如「社区二楼会议室」。")
    return Goto(S.form, {"place": text})


def ask_format(_data: Data, _lookups: Lookups) -> str:
    return f"协商形式是？请回复序号：\n{numbered([FORMAT_NAMES[f] for f in FORMATS])}"


def fmt(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    names = [FORMAT_NAMES[f] for f in FORMATS]
    index = choose(msg.text, names, aliases=FORMAT_ALIASES) if msg.kind == "text" else None
    if index is None:
        return Retry(f"请回复 1 到 3 的序号：\n{numbered(names)}")
    return Goto(S.invitees, {"format": FORMATS[index], "format_name": names[index]})


def ask_invitees(_data: Data, _lookups: Lookups) -> str:
    return (
        f"邀请哪些人？请回复序号：\n{numbered([SCOPE_NAMES[s] for s in SCOPES])}\n"
        "还要邀请其他人，可在序号后写「另加 名字」，如「1 另加 王芳 李强」。"
    )


def invitees(data: Data, msg: Incoming, lookups: Lookups) -> Outcome:
    text = typed(msg)
    parts = EXTRA.split(text, maxsplit=1)
    head, tail = parts[0], parts[1] if len(parts) > 1 else ""
    index = choose(head, [SCOPE_NAMES[s] for s in SCOPES], aliases=SCOPE_ALIASES)
    if index is None:
        return Retry("请回复 1 到 3 的序号（可在后面写「另加 名字」），如「1」或「1 另加 王芳」。")
    names = [n for n in NAME_SPLIT.split(tail) if n]
    if len(parts) > 1 and not names:
        return Retry("「另加」后面请写上名字，用空格或顿号隔开，如「1 另加 王芳、李强」。")
    plan = lookups.session_invitees(int(data["room_id"]), SCOPES[index], names)
    if plan["unknown"]:
        missing = "、".join(plan["unknown"])
        return Retry(
            f"没有找到叫「{missing}」的用户（要先给公众号或企业微信发过消息并设置了名字）。请核对名字，或只回复序号。"
        )
    if not plan["total"]:
        return Retry(
            "这个范围内还没有人。可以用「另加 名字」邀请具体的人，或先发「邀请 委员」「邀请 代表」生成邀请码请大家绑定。"
        )
    return Goto(
        S.materials,
        {
            "scope": SCOPES[index],
            "scope_name": SCOPE_NAMES[SCOPES[index]],
            "extra_ids": plan["extra_ids"],
            "extra_names": names,
            "invited_total": plan["total"],
            "invited_representatives": plan["representatives"],
        },
    )


def ask_materials(_data: Data, _lookups: Lookups) -> str:
    return "有会前材料吗？请发材料链接（如 https://…）；没有请回复「跳过」。"


def materials(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    text = typed(msg)
    if len(text) < 4 or len(text) > 500:
        return Retry("请发材料链接（4 到 500 个字），或回复「跳过」。")
    return Goto(S.confirm, {"materials_url": text})


def ask_confirm(data: Data, _lookups: Lookups) -> str:
    tz = str(data.get(TZ_KEY) or "Asia/Shanghai")
    starts = datetime.fromisoformat(str(data["starts_at"])) if data.get("starts_at") else None
    extra = f"，另加 {'、'.join(data['extra_names'])}" if data.get("extra_names") else ""
    lines = [
        "请核对这次协商：",
        f"议事室：{data.get('room_name', '')}",
        f"议题：{data.get('topic_label', '')}",
        f"时间：{when_text(starts, tz) if starts else '未填'}",
        f"地点：{data.get('place', '')}",
        f"形式：{data.get('format_name', '')}",
        f"邀请：{data.get('scope_name', '')}{extra}，共 {data.get('invited_total', 0)} 人"
        f"（其中群众代表 {data.get('invited_representatives', 0)} 人）",
        f"材料：{data.get('materials_url') or '无'}",
    ]
    found = warnings(
        total=int(data.get("invited_total") or 0), representatives=int(data.get("invited_representatives") or 0)
    )
    if found:
        lines += ["", "⚠ 请注意：", *(f"· {w}" for w in found), "仍可确认，也可回复「返回」调整邀请范围。"]
    lines += ["", confirm_hint("创建并通知所有受邀人", back="修改上一项")]
    return "\n".join(lines)


DIALOG = Dialog(
    name="session",
    cancelled="已取消，没有新建协商。需要时再发「新建协商」。",
    title="新建协商",
    first=S.room,
    confirm=S.confirm,
    required=("room_id", "topic_label", "starts_at", "place", "format", "scope"),
    effects=("create_session",),
    steps={
        S.room: Step(ask_room, room, next=S.topics, applies=until_filled("room_id")),
        S.topics: Step(
            ask_topics, topics, next=S.time, help="议题来自本室已审定的提议，也可以直接写一个议题名称。", free_text=True
        ),
        S.time: Step(ask_time, time_step_handle, next=S.place, help="写日期和几点，上午、下午要写清楚。"),
        S.place: Step(ask_place, place, next=S.form, free_text=True),
        S.form: Step(
            ask_format,
            fmt,
            next=S.invitees,
            help="会议：在会议室座谈；现场：到问题现场；网络：线上协商。",
            commands=frozenset({"现场"}),
        ),
        S.invitees: Step(
            ask_invitees, invitees, next=S.materials, help="协商一般不少于 10 人，群众代表不少于三分之一。"
        ),
        S.materials: Step(
            ask_materials, materials, next=S.confirm, optional=True, help="材料链接会随通知和提醒发出。", free_text=True
        ),
        S.confirm: confirm_step(
            S.confirm, ask_confirm, "create_session", does="创建", help="确认后会通知所有受邀人，并按时发送会前提醒。"
        ),
    },
)


# --- 改期 <会议编号> [时间] ---------------------------------------------------------------------


class M(StrEnum):
    time = "move_session:time"
    confirm = "move_session:confirm"


def ask_move_time(data: Data, _lookups: Lookups) -> str:
    head = f"改期：会议 {data.get('session_id', '')}「{data.get('title', '')}」，原定 {data.get('old_when', '')}。"
    ask = str(data.get("time_question") or "改到什么时候？例如「12月5日下午3点」「下周二14:30」。")
    return f"{head}\n{ask}\n不改了请回复「取消」。"


def move_time(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    return read_time(data, msg, M.time, M.confirm)


def ask_move_confirm(data: Data, _lookups: Lookups) -> str:
    tz = str(data.get(TZ_KEY) or "Asia/Shanghai")
    new = when_text(datetime.fromisoformat(str(data["starts_at"])), tz) if data.get("starts_at") else "未填"
    return (
        f"把会议 {data.get('session_id', '')}「{data.get('title', '')}」\n"
        f"从 {data.get('old_when', '')}\n改到 {new}？\n"
        "回复「确认」改期：所有受邀人都会收到通知，已有的参加、请假答复会清空，请他们重新答复；"
        "提醒也随之改到新时间。回复「算了」不改。"
    )


MOVE_DIALOG = Dialog(
    name="move_session",
    cancelled="好的，没有改期，会议时间不变。",
    title="改期",
    first=M.time,
    confirm=M.confirm,
    required=("session_id", "starts_at"),
    effects=("move_session",),
    steps={
        M.time: Step(ask_move_time, move_time, next=M.confirm, applies=until_filled("starts_at")),
        M.confirm: confirm_step(
            M.confirm, ask_move_confirm, "move_session", retry="请回复「确认」改期，或「算了」不改。"
        ),
    },
)


# --- 取消会议 <会议编号> [原因] -------------------------------------------------------------------


class C(StrEnum):
    reason = "cancel_session:reason"
    confirm = "cancel_session:confirm"


REASON_LENGTH = (2, 200)


def read_reason(text: str) -> str | None:
    """Why a session is cancelled, as typed (it goes to every invitee), or None when too short or too long."""
    text = text.strip()
    return text if REASON_LENGTH[0] <= len(text) <= REASON_LENGTH[1] else None


def _cancelled_session(data: Data) -> str:
    return f"会议 {data.get('session_id', '')}「{data.get('title', '')}」（{data.get('old_when', '')}）"


def ask_cancel_reason(data: Data, _lookups: Lookups) -> str:
    return (
        f"要取消{_cancelled_session(data)}吗？\n"
        "请写取消的原因，会写进发给所有受邀人的取消通知，如「场地临时维修，改日再议」。\n"
        "不取消了请回复「算了」。"
    )


def cancel_reason(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    reason = read_reason(typed(msg))
    if reason is None:
        return Retry(f"请用 {REASON_LENGTH[0]} 到 {REASON_LENGTH[1]} 个字写明取消的原因，或回复「算了」不取消。")
    return Goto(C.confirm, {"reason": reason})


def ask_cancel_confirm(data: Data, _lookups: Lookups) -> str:
    return (
        f"取消{_cancelled_session(data)}？\n"
        f"取消原因：{data.get('reason', '')}\n"
        "回复「确认」取消，所有受邀人都会收到写明原因的取消通知，会前提醒也不再发送；"
        "要改原因，直接发新的原因；回复「算了」保留这次会议。"
    )


def cancel_confirm(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    if said_confirm(msg):
        return Finish("cancel_session")
    reason = read_reason(typed(msg))
    if reason is not None:  # a new reason replaces the one shown, and the preview is shown again
        return Goto(C.confirm, {"reason": reason})
    return Retry("请回复「确认」取消这次会议，发新的原因可以替换，或回复「算了」保留。")


CANCEL_DIALOG = Dialog(
    name="cancel_session",
    cancelled="好的，会议照常举行，没有取消。",
    title="取消会议",
    first=C.reason,
    confirm=C.confirm,
    required=("session_id", "reason"),
    effects=("cancel_session",),
    steps={
        C.reason: Step(
            ask_cancel_reason,
            cancel_reason,
            next=C.confirm,
            applies=until_filled("reason"),
            help="取消的原因会写进取消通知，发给所有受邀人。",
            free_text=True,
        ),
        C.confirm: Step(
            ask_cancel_confirm, cancel_confirm, next=C.confirm, help="确认后通知所有受邀人，议题回到「已审定」。"
        ),
    },
)


DIALOGS = (DIALOG, MOVE_DIALOG, CANCEL_DIALOG)
