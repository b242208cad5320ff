"""Follow-up dialogs: the resident's reason for 没解决, the convenor's 回头看 answer, 办理进度.

The handlers that start them put the item (id and label) into the data, so a step never looks it up.
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.common import said_confirm, typed, until_filled
from bot.dialogs.engine import Data, Dialog, Finish, Goto, Lookups, Outcome, Retry, Step
from bot.incoming import Incoming
from bot.services.followup import parse_percent
from bot.text import control_word

MIN_CHARS = 2
MAX_CHARS = 500
PERCENT_HINT = "请回复 0 到 100 之间的数字，可附一句说明，如「60 已完成主体施工」；100 表示办结。"


class Reason(StrEnum):
    reason = "followup_reason:reason"


class Reply(StrEnum):
    text = "followup_reply:text"
    confirm = "followup_reply:confirm"


class Progress(StrEnum):
    percent = "followup_progress:percent"
    confirm = "followup_progress:confirm"


def _words(msg: Incoming, *, what: str) -> str | Retry:
    body = typed(msg)
    if len(body) < MIN_CHARS or control_word(body) is not None:
        return Retry(f"请用一句话写下{what}（至少 {MIN_CHARS} 个字），或回复「取消」。")
    if len(body) > MAX_CHARS:
        return Retry(f"请控制在 {MAX_CHARS} 字以内（现在 {len(body)} 字）。")
    return body


# --- the resident: why is it not solved? ---------------------------------------------------------


def ask_reason(data: Data, _lookups: Lookups) -> str:
    item = data.get("label") or "这件事"
    return f"抱歉问题还没解决。关于「{item}」，请说说现在的情况或还差什么（一句话即可），我们会转告召集人重新跟进。"


def reason(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    body = _words(msg, what="没解决的原因")
    return body if isinstance(body, Retry) else Finish("followup_reopen", {"reason": body})


# --- the convenor: answer a reopened item ----------------------------------------------------------


def ask_reply(data: Data, _lookups: Lookups) -> str:
    return (
        f"事项：{data.get('label', '')}\n群众反映：{data.get('complaint') or '未说明'}\n"
        "请写下给群众的答复（如处理安排、进展），发送前会请您确认。"
    )


def reply_text(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    body = _words(msg, what="给群众的答复")
    return body if isinstance(body, Retry) else Goto(Reply.confirm, {"reply": body})


def ask_reply_confirm(data: Data, _lookups: Lookups) -> str:
    return (
        f"将答复群众：\n事项：{data.get('label', '')}\n答复：{data.get('reply', '')}\n\n"
        "回复「确认」发送；直接发来新的答复可替换；回复「取消」放弃。"
    )


def reply_confirm(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    """确认 sends; any other sentence replaces the answer (the text step may have been passed over)."""
    if said_confirm(msg):
        return Finish("followup_reply")
    body = _words(msg, what="给群众的答复")
    if isinstance(body, Retry):
        return Retry("请回复「确认」发送，直接发来新的答复可替换，或回复「取消」放弃。")
    return Goto(Reply.confirm, {"reply": body}, note="已改为新的答复。")


# --- the convenor: progress of a responsibility item -------------------------------------------------


def _percent_unknown(data: Data, _lookups: Lookups) -> bool:
    return data.get("percent") is None


def ask_percent(data: Data, _lookups: Lookups) -> str:
    return f"「{data.get('item', '')}」目前进度 {data.get('old_percent', 0)}%。{PERCENT_HINT}"


def percent(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    parsed = parse_percent(typed(msg))
    if isinstance(parsed, str):
        return Retry(f"{parsed}\n{PERCENT_HINT}")
    value, note = parsed
    return Goto(Progress.confirm, {"percent": value, "note": note or ""})


def ask_progress_confirm(data: Data, _lookups: Lookups) -> str:
    value = int(data.get("percent") or 0)
    state = "100%（办结）" if value >= 100 else f"{value}%"
    note = f"\n说明：{data['note']}" if data.get("note") else ""
    people = int(data.get("people") or 0)
    told = f"将通知 {people} 位关心此事的群众。" if people else "这项没有关联的提议人，不会通知群众。"
    return (
        f"将更新「{data.get('item', '')}」的办理进度：{data.get('old_percent', 0)}% → {state}{note}\n{told}\n\n"
        "回复「确认」更新；直接发来新的进度（如「80 已完工待验收」）可修改；回复「取消」放弃。"
    )


def progress_confirm(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    """确认 stores; a new percent (with its note) replaces the one shown."""
    if said_confirm(msg):
        return Finish("followup_progress")
    parsed = parse_percent(typed(msg))
    if isinstance(parsed, str):
        return Retry("请回复「确认」更新，直接发来新的进度（0 到 100）可修改，或回复「取消」放弃。")
    value, note = parsed
    return Goto(Progress.confirm, {"percent": value, "note": note or ""}, note="已改为新的进度。")


DIALOGS: tuple[Dialog, ...] = (
    Dialog(
        name="followup_reason",
        effects=("followup_reopen",),
        title="回头看",
        first=Reason.reason,
        confirm=Reason.reason,
        cancelled="好的，您的回答没有登记。问题仍没解决的话，随时回复「没解决 原因」。",
        steps={
            Reason.reason: Step(
                ask_reason, reason, next=Reason.reason, help="写下原因后，事项会重新交给召集人跟进。", free_text=True
            ),
        },
    ),
    Dialog(
        name="followup_reply",
        title="回头看答复",
        first=Reply.text,
        confirm=Reply.confirm,
        required=("reply",),
        effects=("followup_reply",),
        draft_keys=("reply",),
        cancelled="已取消，答复没有发送。",
        steps={
            Reply.text: Step(
                ask_reply,
                reply_text,
                next=Reply.confirm,
                applies=until_filled("reply"),
                help="答复会发给反映问题的群众。",
                free_text=True,
            ),
            Reply.confirm: Step(ask_reply_confirm, reply_confirm, next=Reply.confirm, help="确认后答复会发给群众。"),
        },
    ),
    Dialog(
        name="followup_progress",
        title="办理进度",
        first=Progress.percent,
        confirm=Progress.confirm,
        required=("percent",),
        effects=("followup_progress",),
        cancelled="已取消，进度没有更新。",
        steps={
            Progress.percent: Step(
                ask_percent,
                percent,
                next=Progress.confirm,
                applies=_percent_unknown,
                help="进度是责任事项完成的百分比，更新后会告诉提出这件事的群众。",
            ),
            Progress.confirm: Step(
                ask_progress_confirm, progress_confirm, next=Progress.confirm, help="确认后会通知关心此事的群众。"
            ),
        },
    ),
)
