"""改期 and 取消会议: a convenor moves or cancels a session, declared as data.

The handler puts the session's number, title and current time into the data; 取消会议 may carry the
reason typed with the command.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from bot.dialogs.common import confirm_step, said_confirm, typed, until_filled
from bot.dialogs.engine import Data, Dialog, Finish, Goto, Lookups, Outcome, Retry, Step
from bot.dialogs.session_time import read_time, tz_of
from bot.incoming import Incoming
from bot.services.session_notices import when_text

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
    tz = tz_of(data)
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


DIALOGS = (MOVE_DIALOG, CANCEL_DIALOG)
