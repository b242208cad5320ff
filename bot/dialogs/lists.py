"""清单 and 发布反馈: the convenor records a session's three lists from a phone, then publishes results.

清单 asks which session and which list, takes several items in one message (one a line), shows a
preview and stores on 确认 (or 替换 to replace the unpublished items of that list). 发布反馈 shows
how many results go to how many residents and publishes on 确认. The handlers put the session
choices and each session's topics into the data, so numbers answered stay what was shown.
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.common import confirm_hint, confirm_step, said_confirm, typed, until_filled
from bot.dialogs.engine import Data, Dialog, Finish, Goto, Handler, Lookups, Outcome, Retry, Step
from bot.incoming import Incoming
from bot.services.list_parse import KINDS
from bot.services.lists import KIND_NAMES
from bot.text import choose, normalize, numbered

MAX_LINES = 50
MAX_CHARS = 5000
KIND_ALIASES = [
    ("建议", "协商建议", "建议清单", "协商建议清单"),
    ("责任", "责任落实", "落实", "责任清单", "责任落实清单"),
    ("反馈", "结果反馈", "结果", "反馈清单", "结果反馈清单"),
]
REPLACE = ("替换", "覆盖", "替换原有", "重新录入", "全部替换")
FORMATS = {
    "suggestions": (
        "一行一条建议，谁提的可写「@名字」（记入履职档案）",
        "#1 在3号楼前加装两盏路灯 @刘委员\n#2 垃圾分类点移到小区东门",
    ),
    "responsibilities": (
        "一行一条，写成「事项｜责任单位｜截止日期」，截止日期也可写「10个工作日」（节假日、调休已算好）",
        "#1 加装路灯｜社区居委会｜12月31日\n#2 移设垃圾分类点｜物业公司｜月底",
    ),
    "feedback": (
        "一行一条，写成「事项｜结果｜采纳情况」，采纳情况写已采纳、部分采纳、待定（如暂未采纳、研究中）或未采纳",
        "#1 加装路灯｜已装两盏，12月20日起亮灯｜已采纳\n#2 移设垃圾分类点｜东门是消防通道，改在北门｜部分采纳",
    ),
}


class S(StrEnum):
    session = "lists:session"
    kind = "lists:kind"
    items = "lists:items"
    confirm = "lists:confirm"
    publish_session = "publish:session"
    publish_confirm = "publish:confirm"


def _labels(data: Data) -> list[str]:
    return [str(label) for _id, label in data.get("sessions") or []]


def ask_session(data: Data, _lookups: Lookups) -> str:
    return f"是哪一次协商活动？请回复序号：\n{numbered(_labels(data))}"


def pick_session(next_state: str) -> Handler:
    """A step handler choosing one of the listed sessions, then going on to `next_state`."""

    def handle(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
        labels = _labels(data)
        index = choose(msg.text, labels) if msg.kind == "text" else None
        if index is None:
            return Retry(f"请回复 1 到 {len(labels)} 之间的序号：\n{numbered(labels)}")
        session_id, label = data["sessions"][index]
        return Goto(next_state, {"session_id": int(session_id), "session_label": str(label)}, note=f"已选择：{label}")

    return handle


def _session_note(data: Data) -> str:
    return f"（协商活动：{data.get('session_label', '')}）"


def ask_kind(data: Data, _lookups: Lookups) -> str:
    counts = (data.get("counts") or {}).get(str(data.get("session_id")), {})
    options = [f"{KIND_NAMES[k]}（已有 {int(counts.get(k, 0))} 条）" for k in KINDS]
    return f"要录入哪份清单？请回复序号：\n{numbered(options)}\n{_session_note(data)}"


def kind(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    names = [KIND_NAMES[k] for k in KINDS]
    index = choose(msg.text, names, aliases=KIND_ALIASES) if msg.kind == "text" else None
    if index is None:
        return Retry(f"请回复 1 到 {len(KINDS)} 之间的序号：\n{numbered(names)}")
    return Goto(S.items, {"kind": KINDS[index]})


def _topics(data: Data) -> list[str]:
    return [str(t) for t in (data.get("topics") or {}).get(str(data.get("session_id")), [])]


def ask_items(data: Data, _lookups: Lookups) -> str:
    what, example = FORMATS[str(data["kind"])]
    topics = _topics(data)
    refs = (
        "行首写「#序号」关联本次议题，也可写受理编号（如 #YS-2026-000123、#WJ-2026-000045）关联提议或微建言。\n"
        f"本次议题：\n{chr(10).join(topics)}"
        if topics
        else "可在行首写受理编号（如 #YS-2026-000123、#WJ-2026-000045）关联提议或微建言。"
    )
    unlinked = "\n不写编号的行关联本次全部议题。" if data["kind"] == "feedback" and topics else ""
    return (
        f"请发送{KIND_NAMES[str(data['kind'])]}：{what}，可以一次发多条。\n{refs}{unlinked}\n\n例如：\n{example}\n\n"
        f"发送后会先给您预览，确认后才记录。{_session_note(data)}"
    )


def items(data: Data, msg: Incoming, lookups: Lookups) -> Outcome:
    body = typed(msg)
    if not body:
        return Retry("请用文字发送清单条目，一行一条。")
    lines = [ln for ln in body.splitlines() if ln.strip()]
    if len(lines) > MAX_LINES or len(body) > MAX_CHARS:
        return Retry(f"一次最多 {MAX_LINES} 条、{MAX_CHARS} 字，请分几次发送（每次确认后再发下一批）。")
    entry = lookups.list_entry(int(data["session_id"]), str(data["kind"]), body, str(data["today"]))
    problems: list[str] = entry["problems"]
    if problems:
        return Retry(
            f"有 {len(problems)} 行需要修改，这条消息里的条目都还没有记录：\n"
            + "\n".join(problems)
            + "\n请改好后把全部条目重新发一次。"
        )
    return Goto(S.confirm, {"text": body, "preview": entry["preview"]})


def _existing(data: Data) -> int:
    counts = (data.get("counts") or {}).get(str(data.get("session_id")), {})
    return int(counts.get(str(data.get("kind")), 0))


def ask_confirm(data: Data, _lookups: Lookups) -> str:
    preview = [str(line) for line in data.get("preview") or []]
    head = f"{KIND_NAMES[str(data['kind'])]}预览{_session_note(data)}，共 {len(preview)} 条：\n{numbered(preview)}\n\n"
    existing = _existing(data)
    if existing:
        return head + (
            f"这份清单已有 {existing} 条。回复「确认」追加在后面；回复「替换」用这 {len(preview)} 条替换尚未发布的原有条目；"
            "回复「返回」修改；回复「取消」放弃。"
        )
    return head + confirm_hint("记录")


def confirm(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    if msg.kind == "text" and normalize(msg.text) in REPLACE and _existing(data):
        return Finish("store_list", {"replace": True})
    if said_confirm(msg):
        return Finish("store_list", {"replace": False})
    if _existing(data):
        return Retry("请回复「确认」追加，「替换」替换原有条目，「返回」修改，或「取消」放弃。")
    return Retry("请回复「确认」记录，「返回」修改，或「取消」放弃。")


LISTS = Dialog(
    name="lists",
    title="清单",
    cancelled="已取消，这次发送的条目没有记录。",
    first=S.session,
    confirm=S.confirm,
    required=("session_id", "kind", "text"),
    effects=("store_list",),
    steps={
        S.session: Step(
            ask_session,
            pick_session(S.kind),
            next=S.kind,
            applies=until_filled("session_id"),
            help="选择要录入清单的协商活动（已开始或已举行的）。",
        ),
        S.kind: Step(
            ask_kind,
            kind,
            next=S.items,
            applies=until_filled("kind"),
            help="三份清单：协商建议清单（会上形成的建议）、责任落实清单（谁负责、何时完成）、结果反馈清单（办理结果，发布后推送给群众）。",
        ),
        S.items: Step(
            ask_items,
            items,
            next=S.confirm,
            help="一条消息可以写很多行，一行一条。分隔可用「｜」、逗号或空格。",
            free_text=True,
        ),
        S.confirm: Step(ask_confirm, confirm, next=S.confirm, help="确认前可回复「返回」改条目。"),
    },
)


def ask_publish_session(data: Data, _lookups: Lookups) -> str:
    return f"发布哪一次协商活动的结果反馈清单？请回复序号：\n{numbered(_labels(data))}"


def publish_preview(data: Data, lookups: Lookups) -> Data:
    return lookups.publish_preview(int(data["session_id"]))


def ask_publish(data: Data, _lookups: Lookups) -> str:
    lines = [str(line) for line in data.get("lines") or []]
    people = int(data.get("people") or 0)
    if people:
        told = f"发布后会逐一通知 {people} 位提出、附议或发来微建言的群众，并请他们评价。"
    elif data.get("repeats"):
        told = "这些结果都已经通知过相关群众，发布后只记录，不会重复通知。"
    else:
        told = "这些结果没有关联到任何群众，发布后只记录，不会通知人。"
    return (
        f"将发布「{data.get('session_label', '')}」的结果反馈清单 {len(lines)} 条：\n{numbered(lines)}\n\n{told}\n"
        + (
            confirm_hint("发布", back="换一次活动")
            if len(_labels(data)) > 1
            else "回复「确认」发布；回复「取消」暂不发布。"
        )
    )


PUBLISH = Dialog(
    name="publish",
    title="发布反馈",
    cancelled="已取消，结果反馈清单没有发布。",
    first=S.publish_session,
    confirm=S.publish_confirm,
    required=("session_id",),
    effects=("publish_feedback",),
    steps={
        S.publish_session: Step(
            ask_publish_session,
            pick_session(S.publish_confirm),
            next=S.publish_confirm,
            applies=until_filled("session_id"),
            help="列出的是有尚未发布的结果反馈的协商活动。",
        ),
        S.publish_confirm: confirm_step(
            S.publish_confirm,
            ask_publish,
            "publish_feedback",
            does="发布",
            enter=publish_preview,
            help="发布后，每条结果会推送给关联的提议人、附议人和微建言人，他们可以回复满意、基本满意或不满意。",
        ),
    },
)

DIALOGS = (LISTS, PUBLISH)
