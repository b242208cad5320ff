"""新建协商 (schedule a session): a convenor's dialog, declared as data (改期 and 取消会议: session_change).

The handler that starts them puts the convenor's rooms, each room's approved topics and the time
the dialog began (`now`, for reading `明天`) into the data, so steps stay free of the database and
the numbers a convenor answers with stay the numbers shown.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bot.dialogs.common import confirm_hint, confirm_step, typed, until_filled
from bot.dialogs.engine import Data, Dialog, Goto, Lookups, Outcome, Retry, Step
from bot.dialogs.session_change import CANCEL_DIALOG, MOVE_DIALOG
from bot.dialogs.session_time import DEFAULT_WORDS, ask_end, ask_time, ends_of, read_end, read_time, starts_of, tz_of
from bot.incoming import Incoming
from bot.services.session_invitees import SCOPE_NAMES, SCOPES, warnings
from bot.services.session_notices import FORMAT_NAMES, FORMATS, span_text
from bot.text import choose, control_word, normalize, numbered, parse_number

NUMBERS = re.compile(r"^[\d\s,，、和及]+$")
EXTRA = re.compile(r"另加|另外加|加上|还有")
NAME_SPLIT = re.compile(r"[\s,，、和及;；]+")
FORMAT_ALIASES = [
    ("开会", "会议协商", "座谈", "座谈会"),
    ("实地", "现场协商", "线下", "现场议事"),
    ("线上", "网上", "视频", "网络协商", "在线"),
]
TITLE_LENGTH = (2, 60)
SCOPE_ALIASES = [("全部", "都选", "委员和代表", "所有人", "全体"), ("委员",), ("代表", "群众代表")]


class S(StrEnum):
    room = "session:room"
    topics = "session:topics"
    session_name = "session:title"
    time = "session:time"
    end = "session:end"
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
        names = [str(t[2]) for t in chosen]
        updates = {"topic_ids": [t[0] for t in chosen], "topic_names": names, "title": None}
        return Goto(S.session_name, {**updates, "topic_label": "；".join(names)})
    if len(text) < 4 or len(text) > 100 or NUMBERS.match(text):
        hint = "回复序号选择已审定的议题，或" if options else ""
        return Retry(f"请{hint}输入议题名称（4 到 100 个字）。")
    # A topic of one's own is the session's name too: no title step.
    return Goto(S.time, {"topic_ids": [], "topic_names": [], "title": text, "topic_label": text})


def _picked_topics(data: Data, _lookups: Lookups) -> bool:
    return bool(data.get("topic_ids"))


def _names(data: Data) -> list[str]:
    """The picked topics' names, the first being the default title (a draft from before kept only the label)."""
    return [str(n) for n in data.get("topic_names") or []] or [str(data.get("topic_label") or "协商活动")]


def ask_title(data: Data, _lookups: Lookups) -> str:
    names = _names(data)
    listed = numbered([f"{names[0]}（默认）", *names[1:]])
    others = "，回复其他序号用那个议题" if len(names) > 1 else ""
    return (
        f"会议名称用什么？默认用第一个议题：\n{listed}\n"
        f"回复「默认」「跳过」或「1」用默认名称{others}；也可以直接写名称，如「幸福路路灯维修协商会」。"
    )


def title(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    text = typed(msg)
    names = _names(data)
    number = parse_number(text)
    if control_word(text) in {"skip", "agree"} or normalize(text) in DEFAULT_WORDS:
        chosen = names[0]
    elif number is not None:
        if not 1 <= number <= len(names):
            return Retry(f"没有序号 {number}。请回复 1 到 {len(names)} 的序号，或直接写会议名称。")
        chosen = names[number - 1]
    elif TITLE_LENGTH[0] <= len(text) <= TITLE_LENGTH[1]:
        chosen = text
    else:
        return Retry(f"请写会议名称（{TITLE_LENGTH[0]} 到 {TITLE_LENGTH[1]} 个字），或回复「默认」用第一个议题。")
    return Goto(S.time, {"title": chosen}, note=f"会议名称：{chosen}")


def time_step_handle(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    outcome = read_time(data, msg, S.time, S.end)
    if isinstance(outcome, Goto) and outcome.state == S.end:  # a new start: the end is asked again
        return Goto(outcome.state, {**outcome.updates, "ends_at": None}, outcome.note)
    return outcome


def end(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    return read_end(data, msg, S.place)


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
    starts, ends = starts_of(data), ends_of(data)
    extra = f"，另加 {'、'.join(data['extra_names'])}" if data.get("extra_names") else ""
    named = [f"会议名称：{data.get('title') or _names(data)[0]}"] if data.get("topic_ids") else []
    lines = [
        "请核对这次协商：",
        f"议事室：{data.get('room_name', '')}",
        *named,
        f"议题：{data.get('topic_label', '')}",
        f"时间：{span_text(starts, ends, tz_of(data)) if starts and ends else '未填'}",
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
            ask_topics,
            topics,
            next=S.session_name,
            help="议题来自本室已审定的提议，也可以直接写一个议题名称。",
            free_text=True,
        ),
        S.session_name: Step(
            ask_title,
            title,
            next=S.time,
            applies=_picked_topics,
            help="会议名称会写进通知和提醒；不写就用第一个议题。",
        ),
        S.time: Step(ask_time, time_step_handle, next=S.end, help="写日期和几点，上午、下午要写清楚。"),
        S.end: Step(ask_end, end, next=S.place, help="写几点结束，或开多久；不写就按开始后 2 小时。"),
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


DIALOGS = (DIALOG, MOVE_DIALOG, CANCEL_DIALOG)
