"""广播: a convenor picks an audience, writes the text, sees a preview with the recipient count, 确认.

The handler that starts it puts the room, the author and the numbered lists (open proposals,
upcoming sessions) into the data, so the numbers a convenor answers with stay what was shown.
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.common import said_confirm, typed, until_filled
from bot.dialogs.engine import Data, Dialog, Finish, Goto, Lookups, Outcome, Retry, Step
from bot.incoming import Incoming
from bot.services.broadcasts import AUDIENCE_NAMES, Audience, framed
from bot.services.proposals import find_receipt
from bot.text import choose, normalize, numbered, parse_number

MIN_CHARS = 2
MAX_CHARS = 600
AUDIENCES = [Audience.members, Audience.residents, Audience.proposers, Audience.invitees]
ALIASES = [
    ("委员", "代表", "委员和代表", "成员"),
    ("群众", "居民", "本室群众", "写过信的居民"),
    ("提议人", "附议人", "提议", "某条提议"),
    ("受邀人", "协商", "会议", "参会人", "某次协商"),
]


class S(StrEnum):
    audience = "broadcast:audience"
    proposal = "broadcast:proposal"
    session = "broadcast:session"
    text = "broadcast:text"
    confirm = "broadcast:confirm"


def _room_note(data: Data) -> str:
    return f"（议事室：{data.get('room_name', '')}）"


def ask_audience(data: Data, _lookups: Lookups) -> str:
    options = numbered([AUDIENCE_NAMES[a] for a in AUDIENCES])
    return f"要把广播发给谁？请回复序号：\n{options}\n{_room_note(data)}"


def audience(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    names = [AUDIENCE_NAMES[a] for a in AUDIENCES]
    index = choose(msg.text, names, aliases=ALIASES) if msg.kind == "text" else None
    if index is None:
        return Retry(f"请回复 1 到 {len(AUDIENCES)} 之间的序号：\n{numbered(names)}")
    picked = AUDIENCES[index]
    if picked == Audience.invitees and not data.get("session_choices"):
        return Retry(
            "本议事室目前没有即将举行的协商活动，无法按受邀人发送。请选择其他对象（回复序号），或回复「取消」。"
        )
    if picked in (Audience.proposers, Audience.invitees):
        # `audience` stays empty until the proposal or session is known, so 确认 cannot skip ahead.
        target = S.proposal if picked == Audience.proposers else S.session
        return Goto(target, {"audience_pick": picked, "audience": None, "audience_ref": None})
    return Goto(
        S.text, {"audience_pick": picked, "audience": picked, "audience_ref": None, "audience_label": names[index]}
    )


def ask_proposal(data: Data, _lookups: Lookups) -> str:
    choices = data.get("proposal_choices") or []
    if not choices:
        return "本议事室目前没有进行中的提议。请直接发送那条提议的受理编号（如 YS-2026-000123）。"
    listing = numbered([f"{receipt} {summary}" for _id, receipt, summary in choices])
    return f"是哪条提议？请回复序号，或直接发送受理编号（如 YS-2026-000123）：\n{listing}"


def _proposal_picked(proposal_id: int, receipt: str, summary: str) -> Outcome:
    label = f"提议 {receipt}（{summary}）的提议人和附议人"
    return Goto(
        S.text,
        {"audience": Audience.proposers, "audience_ref": proposal_id, "audience_label": label},
        note=f"已选择：{label}",
    )


def proposal(data: Data, msg: Incoming, lookups: Lookups) -> Outcome:
    body = msg.text if msg.kind == "text" else ""
    choices = data.get("proposal_choices") or []
    receipt = find_receipt(body)
    if receipt is not None:
        found = lookups.broadcast_proposal(int(data["room_id"]), receipt)
        if found is None:
            return Retry(f"本议事室没有编号为 {receipt} 的提议。请核对后重发，或回复列表里的序号。")
        return _proposal_picked(found.id, found.receipt, found.summary)
    number = parse_number(body)
    if number is not None and 1 <= number <= len(choices):
        proposal_id, receipt_shown, summary = choices[number - 1]
        return _proposal_picked(int(proposal_id), str(receipt_shown), str(summary))
    if choices:
        return Retry(f"请回复 1 到 {len(choices)} 之间的序号，或发送提议的受理编号（如 YS-2026-000123）。")
    return Retry("请发送提议的受理编号（如 YS-2026-000123）。")


def ask_session(data: Data, _lookups: Lookups) -> str:
    labels = [label for _id, label in data.get("session_choices") or []]
    return f"是哪次协商？请回复序号：\n{numbered(labels)}"


def session(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    choices = data.get("session_choices") or []
    labels = [str(label) for _id, label in choices]
    index = choose(msg.text, labels) if msg.kind == "text" else None
    if index is None:
        return Retry(f"请回复 1 到 {len(labels)} 之间的序号：\n{numbered(labels)}")
    label = f"协商活动「{labels[index]}」的受邀人"
    return Goto(
        S.text,
        {"audience": Audience.invitees, "audience_ref": int(choices[index][0]), "audience_label": label},
        note=f"已选择：{label}",
    )


def ask_text(data: Data, _lookups: Lookups) -> str:
    return f"请发送广播的内容（{MIN_CHARS}–{MAX_CHARS} 字），它会原样发给所选的每一个人。"


def text(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    body = typed(msg)
    if len(body) < MIN_CHARS:
        return Retry(f"请用文字写下广播内容（至少 {MIN_CHARS} 个字）。")
    if len(body) > MAX_CHARS:
        return Retry(f"广播内容请控制在 {MAX_CHARS} 字以内（现在 {len(body)} 字），请精简后再发。")
    return Goto(S.confirm, {"text": body})


def count_recipients(data: Data, lookups: Lookups) -> dict[str, int]:
    ref = data.get("audience_ref")
    count = lookups.broadcast_count(
        int(data["room_id"]), str(data["audience"]), int(ref) if ref else None, int(data["author_id"])
    )
    return {"count": count}


def ask_confirm(data: Data, _lookups: Lookups) -> str:
    count = int(data.get("count") or 0)
    head = (
        f"广播预览{_room_note(data)}\n对象：{data.get('audience_label', '')}\n"
        f"收件人：{count} 人（已退订广播的人和您本人不计在内）\n"
        f"他们收到的是：\n{framed(str(data.get('room_name') or ''), str(data.get('text') or ''))}\n\n"
    )
    if count == 0:
        return head + "这个对象目前没有可以发送的人，广播不会创建。请回复「返回」修改，或「取消」放弃。"
    return head + f"回复「确认」发送给这 {count} 人；「改内容」重写内容；「返回」上一步；「取消」放弃。"


EDIT_TEXT = ("改内容", "修改内容", "重写", "重写内容", "改文字", "修改")


def confirm(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    if msg.kind == "text" and normalize(msg.text) in EDIT_TEXT:
        return Goto(S.text, {"text": None})
    if not said_confirm(msg):
        return Retry("请回复「确认」发送，「改内容」重写内容，「返回」上一步，或「取消」放弃。")
    if not data.get("count"):
        return Retry("这个对象目前没有可以发送的人，广播没有创建。请回复「返回」换一个对象，或「取消」放弃。")
    return Finish("send_broadcast")


DIALOG = Dialog(
    name="broadcast",
    cancelled="已取消，广播没有发出。",
    title="广播",
    first=S.audience,
    confirm=S.confirm,
    required=("room_id", "audience", "text"),
    effects=("send_broadcast",),
    draft_keys=("text",),
    steps={
        S.audience: Step(
            ask_audience,
            audience,
            next=S.text,
            help="广播会以文字消息逐一发给所选对象；已退订广播的人不会收到。",
        ),
        S.proposal: Step(
            ask_proposal,
            proposal,
            next=S.text,
            applies=lambda d, _l: d.get("audience_pick") == Audience.proposers,
            help="选一条提议，消息会发给它的提议人和全部附议人。",
        ),
        S.session: Step(
            ask_session,
            session,
            next=S.text,
            applies=lambda d, _l: d.get("audience_pick") == Audience.invitees,
            help="选一次协商活动，消息会发给它的全部受邀人。",
        ),
        S.text: Step(
            ask_text,
            text,
            next=S.confirm,
            applies=until_filled("text"),
            help="写下要通知大家的内容，如活动安排、办理结果。发送前会先给您预览。",
            free_text=True,
        ),
        S.confirm: Step(
            ask_confirm,
            confirm,
            next=S.confirm,
            enter=count_recipients,
            help="确认后会逐一发送，全部发完后会告诉您成功和失败的人数。",
        ),
    },
)
