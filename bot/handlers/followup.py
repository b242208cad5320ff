"""Follow-up after results: residents answer 'was it solved?'; convenors answer reopened items (回头看)
and record the progress (进度) of responsibility items. Writes happen in the dialogs' effects."""

from __future__ import annotations

from collections.abc import Callable

from bot.context import Ctx
from bot.dialogs.engine import Data
from bot.handlers.registry import Command
from bot.roles import CONVENORS
from bot.services import followup, ratings, sessions
from bot.services.followup import ANSWER_NAMES
from bot.services.proposals import split_receipt
from bot.text import shorten, split_number
from storage.models import ListItem, ResultDelivery

MAX_LISTED = 20
MAX_REPLY = 500
MIN_REASON = 2


# --- residents: was it solved? ---------------------------------------------------------------------


def try_pending(ctx: Ctx) -> list[str] | None:
    """解决了 / 没解决 原因 / 不清楚 (with or without a receipt) from someone who was asked; None otherwise."""
    receipt, words = split_receipt(ctx.msg.text)
    parsed = followup.parse_answer(words)
    if parsed is None:
        return None
    waiting = followup.pending(ctx.session, person_id=ctx.person_id, now=ctx.now)
    if not waiting:
        return None
    if receipt is not None:
        waiting = [d for d in waiting if ratings.receipt_of(ctx.session, d) == receipt]
        if not waiting:
            return [f"{receipt} 没有在等您回答的回访，请核对编号。"]
    if len(waiting) > 1:
        return _ask(ctx, waiting, {"answer": parsed.answer, "reason": parsed.reason})
    return _then_the_rest(ctx, _answer(ctx, waiting[0], parsed.answer, parsed.reason))


def _ask(ctx: Ctx, waiting: list[ResultDelivery], known: Data) -> list[str]:
    items = [[d.id, ratings.label(ctx.session, d), ratings.receipt_of(ctx.session, d) or ""] for d in waiting]
    return ctx.dialogs.start("solved", {"items": items, **known})


def _then_the_rest(ctx: Ctx, said: list[str]) -> list[str]:
    """After an answer, the questions still open are listed again, unless a reason is being asked for."""
    if ctx.dialogs.shown("followup_reason") is not None:
        return said
    left = followup.pending(ctx.session, person_id=ctx.person_id, now=ctx.now)
    return [*said, *(_ask(ctx, left, {}) if left else [])]


def answer_followups(ctx: Ctx, data: Data) -> list[str]:
    """Effect of the numbered follow-up question: the answer for each item picked."""
    waiting = {d.id: d for d in followup.pending(ctx.session, person_id=ctx.person_id, now=ctx.now)}
    picked = [waiting[int(i)] for i in data.get("picks") or [] if int(i) in waiting]
    if not picked:
        return ["这些回访已经回答过了，不用再答。"]
    answer, reason = str(data["answer"]), data.get("reason")
    if answer == "unsolved" and len(picked) > 1 and not reason:
        picked = picked[:1]  # each unsolved item needs its own reason: one at a time
    replies = [line for d in picked for line in _answer(ctx, d, answer, reason)]
    return _then_the_rest(ctx, replies)


def _answer(ctx: Ctx, delivery: ResultDelivery, answer: str, reason: str | None) -> list[str]:
    label = ratings.label(ctx.session, delivery)
    if answer != "unsolved":
        followup.record(ctx.session, delivery=delivery, answer=answer, reason=reason, now=ctx.now)
        if answer == "solved":
            return [f"太好了！已记下：「{label}」问题已解决。感谢您的反馈。"]
        return [f"已记下「{label}」：不清楚。如果之后发现问题还在，欢迎随时发「提议题」再反映。"]
    data: Data = {"delivery_id": delivery.id, "label": label}
    if reason is not None and len(reason) >= MIN_REASON:
        return reopen_item(ctx, {**data, "reason": reason[:MAX_REPLY]})
    return ctx.dialogs.start("followup_reason", data)


def reopen_item(ctx: Ctx, data: Data) -> list[str]:
    """Effect of the reason dialog (and of 没解决 with its reason in one message)."""
    delivery = ctx.session.get(ResultDelivery, int(data["delivery_id"]))
    if delivery is None or delivery.person_id != ctx.person_id:
        return ["没有找到这项回访，您的回答没有登记。"]
    if delivery.followup_answered_at is not None:
        name = ANSWER_NAMES.get(delivery.followup_answer or "", "")
        return [f"这项回访您已经回答过了（{name}），不用再答。"]
    followup.reopen(ctx.session, delivery=delivery, reason=str(data["reason"]), now=ctx.now)
    return [f"已记下：「{data.get('label', '')}」问题没有解决。已转告议事室召集人重新跟进，有答复会告诉您。"]


# --- convenors: 回头看 -------------------------------------------------------------------------------


def _rooms(ctx: Ctx) -> list[int]:
    return [r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person_id)]


def cmd_review_again(ctx: Ctx, rest: str) -> list[str]:
    """回头看 [序号 答复]：群众反映没解决的事项，逐项答复。"""
    waiting = followup.reopened_in_rooms(ctx.session, room_ids=_rooms(ctx))[:MAX_LISTED]
    if not rest.strip():
        if not waiting:
            return ["您的议事室目前没有群众反映没解决、待答复的事项。"]
        tz = ctx.settings.timezone
        items = [[d.id, followup.reopened_line(ctx.session, d, tz=tz)] for d in waiting]
        head = "群众反映没解决、待答复的事项：\n"
        tail = "\n答复会转告群众。也可以一句话写完：「回头看 1 已督促施工方下周返工」。"
        replies = ctx.dialogs.start("reply_pick", {"items": items})
        return [head + replies[0] + tail, *replies[1:]]
    number, answer = split_number(rest)
    if number is None:
        return ["请写成「回头看 序号 答复内容」，如「回头看 1 已督促施工方下周返工」。发「回头看」查看序号。"]
    if not 1 <= number <= len(waiting):
        return [f"没有第 {number} 项待答复的回头看事项。发「回头看」查看序号。"]
    return _reply_to(ctx, waiting[number - 1], answer)


def start_reply(ctx: Ctx, data: Data) -> list[str]:
    """Effect of the 回头看 list: the item picked by number, and the answer if it came along."""
    waiting = {d.id: d for d in followup.reopened_in_rooms(ctx.session, room_ids=_rooms(ctx))}
    delivery = waiting.get(int(data["pick"]))
    if delivery is None:
        return ["这项已经答复过了，或已不在您的议事室。发「回头看」查看待答复的事项。"]
    return _reply_to(ctx, delivery, str(data.get("rest") or ""))


def _reply_to(ctx: Ctx, delivery: ResultDelivery, answer: str) -> list[str]:
    if len(answer) > MAX_REPLY:
        return [f"答复请控制在 {MAX_REPLY} 字以内（现在 {len(answer)} 字）。"]
    data: Data = {
        "delivery_id": delivery.id,
        "label": ratings.label(ctx.session, delivery),
        "complaint": delivery.followup_reason or "",
    }
    if len(answer) >= MIN_REASON:
        data["reply"] = answer
    return ctx.dialogs.start("followup_reply", data)


def send_reply(ctx: Ctx, data: Data) -> list[str]:
    """Effect of the 回头看 dialog: store the answer and send it to the resident."""
    delivery = ctx.session.get(ResultDelivery, int(data["delivery_id"]))
    if delivery is None or followup.room_of(ctx.session, delivery) not in _rooms(ctx):
        return ["没有找到这项回头看事项，或您已不是它所在议事室的召集人，答复没有发送。"]
    if delivery.convenor_reply is not None:
        return ["这项已经有召集人答复过了，这次的答复没有发送。发「回头看」查看其他待答复事项。"]
    followup.reply(ctx.session, delivery=delivery, text=str(data["reply"]), actor_id=ctx.person_id, now=ctx.now)
    left = len(followup.reopened_in_rooms(ctx.session, room_ids=_rooms(ctx)))
    more = f"还有 {left} 项待答复，发「回头看」查看。" if left else "回头看事项都已答复。"
    return [f"答复已记下，并转告群众。{more}"]


# --- convenors: 办理进度 (the bare word 进度 belongs to the residents' 我的) -----------------------


def cmd_progress(ctx: Ctx, rest: str) -> list[str]:
    """办理进度 [序号 百分比 说明]：看责任事项，更新办理进度（100% 为办结），告诉关心它的群众。"""
    items = followup.open_items(ctx.session, room_ids=_rooms(ctx))[:MAX_LISTED]
    if not rest.strip():
        if not items:
            return ["您的议事室目前没有在办的责任事项。"]
        tz = ctx.settings.timezone
        listed = [[i.id, followup.item_line(i, now=ctx.now, tz=tz)] for i in items]
        replies = ctx.dialogs.start("progress_pick", {"items": listed})
        tail = "\n也可以一句话写完：「办理进度 1 60% 已完成主体施工」；100% 为办结。"
        return ["在办的责任事项：\n" + replies[0] + tail, *replies[1:]]
    number, after = split_number(rest)
    if number is None:
        return ["请写成「办理进度 序号 百分比 说明」，如「办理进度 1 60% 已完成主体施工」。发「办理进度」查看序号。"]
    if not 1 <= number <= len(items):
        return [f"没有第 {number} 项在办的责任事项。发「办理进度」查看序号。"]
    return _progress_of(ctx, items[number - 1], after)


def start_progress(ctx: Ctx, data: Data) -> list[str]:
    """Effect of the 办理进度 list: the item picked by number, and the percent if it came along."""
    items = {i.id: i for i in followup.open_items(ctx.session, room_ids=_rooms(ctx))}
    item = items.get(int(data["pick"]))
    if item is None:
        return ["这项责任事项已办结、已反馈，或已不在您的议事室。发「办理进度」查看在办事项。"]
    return _progress_of(ctx, item, str(data.get("rest") or ""))


def _progress_of(ctx: Ctx, item: ListItem, after: str) -> list[str]:
    data = _item_data(ctx, item)
    if after.strip():
        parsed = followup.parse_percent(after)
        if isinstance(parsed, str):
            return [parsed]
        data.update(percent=parsed[0], note=parsed[1] or "")
    return ctx.dialogs.start("followup_progress", data)


def _item_data(ctx: Ctx, item: ListItem) -> Data:
    return {
        "item_id": item.id,
        "item": shorten(item.text, 30),
        "old_percent": item.progress,
        "people": followup.waiting_people(ctx.session, item=item),
    }


def save_progress(ctx: Ctx, data: Data) -> list[str]:
    """Effect of the 进度 dialog."""
    item = ctx.session.get(ListItem, int(data["item_id"]))
    if item is None or item.id not in {i.id for i in followup.open_items(ctx.session, room_ids=_rooms(ctx))}:
        return ["这项责任事项已办结、已反馈，或您已不是它所在议事室的召集人，进度没有更新。"]
    if data.get("percent") is None:
        return ["还没有填写进度，进度没有更新。"]
    percent = int(data["percent"])
    queued = followup.set_progress(ctx.session, item=item, percent=percent, note=data.get("note") or None, now=ctx.now)
    done = "已办结" if percent >= 100 else f"进度 {percent}%"
    told = f"已通知 {queued} 位关心此事的群众。" if queued else "这项没有关联的提议人，未通知群众。"
    return [f"已更新：「{shorten(item.text, 30)}」{done}。{told}"]


EFFECTS: dict[str, Callable[[Ctx, Data], list[str]]] = {
    "answer_followups": answer_followups,
    "start_reply": start_reply,
    "start_progress": start_progress,
    "followup_reopen": reopen_item,
    "followup_reply": send_reply,
    "followup_progress": save_progress,
}

COMMANDS: list[Command] = [
    Command(
        "回头看",
        ("回头看", "回头看看", "回头看事项"),
        cmd_review_again,
        "群众反映没解决的事项，逐项答复",
        roles=CONVENORS,
    ),
    Command(
        "办理进度",
        ("办理进度", "更新进度", "责任进度", "责任事项"),
        cmd_progress,
        "更新责任事项进度，如「办理进度 1 60」",
        roles=CONVENORS,
    ),
]
