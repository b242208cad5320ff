"""Follow-up after results: residents answer 'was it solved?'; convenors answer reopened items (回头看)
and record the progress (进度) of responsibility items. Writes happen in the dialogs' effects."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.context import Ctx
from bot.dialogs.engine import Data
from bot.handlers.registry import Command
from bot.services import followup, ratings, sessions
from bot.services.followup import ANSWER_NAMES
from bot.services.proposals import split_receipt
from bot.text import numbered, shorten
from storage.models import ListItem, ResultDelivery

CONVENOR = frozenset({"convenor"})
MAX_LISTED = 20
MAX_REPLY = 500
MIN_REASON = 2
NUMBER_REST = re.compile(r"^\s*(?:第)?\s*(\d{1,3})\s*(?:项|个|号|条)?(?:[\s,，、:：]+|$)(.*)$", re.S)


def _start(ctx: Ctx, name: str, data: Data) -> list[str]:
    # Imported here: bot.conversation imports the effects registry, which imports this module.
    from bot import conversation

    return conversation.start(ctx, name, data)


# --- residents: was it solved? ---------------------------------------------------------------------


def try_answer(ctx: Ctx, text: str) -> list[str] | None:
    """An answer to the 'was it solved?' question from someone who was asked; None (fall through) otherwise."""
    receipt, words = split_receipt(text)
    parsed = followup.parse_answer(words)
    if parsed is None:
        return None
    waiting = followup.pending(ctx.session, person_id=ctx.person.id, now=ctx.now)
    if not waiting:
        return None
    if receipt is not None:
        waiting = [d for d in waiting if ratings.receipt_of(ctx.session, d) == receipt]
        if not waiting:
            return [f"{receipt} 没有在等您回答的回访，请核对编号。"]
    if len(waiting) > 1 and receipt is None:
        labels = [ratings.label(ctx.session, d) for d in waiting]
        example = ratings.receipt_of(ctx.session, waiting[0]) or "YS-2026-000001"
        return [
            "您有几项事项在回访，请在回答前写上编号，例如「"
            f"{example} 解决了」或「{example} 没解决 原因」：\n" + numbered(labels)
        ]
    delivery = waiting[0]  # one receipt may have several results: answered oldest first
    label = ratings.label(ctx.session, delivery)
    if parsed.answer != "unsolved":
        followup.record(ctx.session, delivery=delivery, answer=parsed.answer, reason=parsed.reason, now=ctx.now)
        if parsed.answer == "solved":
            return [f"太好了！已记下：「{label}」问题已解决。感谢您的反馈。"]
        return [f"已记下「{label}」：不清楚。如果之后发现问题还在，欢迎随时发「提议题」再反映。"]
    data: Data = {"delivery_id": delivery.id, "label": label}
    if parsed.reason is not None and len(parsed.reason) >= MIN_REASON:
        return reopen_item(ctx, {**data, "reason": parsed.reason[:MAX_REPLY]})
    return _start(ctx, "followup_reason", data)


def reopen_item(ctx: Ctx, data: Data) -> list[str]:
    """Effect of the reason dialog (and of 没解决 with its reason in one message)."""
    delivery = ctx.session.get(ResultDelivery, int(data["delivery_id"]))
    if delivery is None or delivery.person_id != ctx.person.id:
        return ["没有找到这项回访，您的回答没有登记。"]
    if delivery.followup_answered_at is not None:
        name = ANSWER_NAMES.get(delivery.followup_answer or "", "")
        return [f"这项回访您已经回答过了（{name}），不用再答。"]
    followup.reopen(ctx.session, delivery=delivery, reason=str(data["reason"]), now=ctx.now)
    return ["已记下：问题没有解决。已转告议事室召集人重新跟进，有答复会告诉您。"]


# --- convenors: 回头看 -------------------------------------------------------------------------------


def _rooms(ctx: Ctx) -> list[int]:
    return [r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person.id)]


def cmd_review_again(ctx: Ctx, rest: str) -> list[str]:
    """回头看 [序号 答复]：群众反映没解决的事项，逐项答复。"""
    waiting = followup.reopened_in_rooms(ctx.session, room_ids=_rooms(ctx))
    tz = ctx.settings.timezone
    if not rest.strip():
        if not waiting:
            return ["您的议事室目前没有群众反映没解决、待答复的事项。"]
        lines = [followup.reopened_line(ctx.session, d, tz=tz) for d in waiting[:MAX_LISTED]]
        return [
            "群众反映没解决、待答复的事项：\n" + numbered(lines) + "\n\n"
            "回复「回头看 序号 答复内容」答复，如「回头看 1 已督促施工方下周返工」，答复会转告群众。"
        ]
    match = NUMBER_REST.match(rest)
    if match is None:
        return ["请写成「回头看 序号 答复内容」，如「回头看 1 已督促施工方下周返工」。发「回头看」查看序号。"]
    number, answer = int(match.group(1)), match.group(2).strip()
    if not 1 <= number <= len(waiting):
        return [f"没有第 {number} 项待答复的回头看事项。发「回头看」查看序号。"]
    if len(answer) > MAX_REPLY:
        return [f"答复请控制在 {MAX_REPLY} 字以内（现在 {len(answer)} 字）。"]
    delivery = waiting[number - 1]
    data: Data = {
        "delivery_id": delivery.id,
        "label": ratings.label(ctx.session, delivery),
        "complaint": delivery.followup_reason or "",
    }
    if len(answer) >= MIN_REASON:
        data["reply"] = answer
    return _start(ctx, "followup_reply", data)


def send_reply(ctx: Ctx, data: Data) -> list[str]:
    """Effect of the 回头看 dialog: store the answer and send it to the resident."""
    delivery = ctx.session.get(ResultDelivery, int(data["delivery_id"]))
    if delivery is None or followup.room_of(ctx.session, delivery) not in _rooms(ctx):
        return ["没有找到这项回头看事项，或您已不是它所在议事室的召集人，答复没有发送。"]
    if delivery.convenor_reply is not None:
        return ["这项已经有召集人答复过了，这次的答复没有发送。发「回头看」查看其他待答复事项。"]
    followup.reply(ctx.session, delivery=delivery, text=str(data["reply"]), actor_id=ctx.person.id, now=ctx.now)
    left = len(followup.reopened_in_rooms(ctx.session, room_ids=_rooms(ctx)))
    more = f"还有 {left} 项待答复，发「回头看」查看。" if left else "回头看事项都已答复。"
    return [f"答复已记下，并转告群众。{more}"]


# --- convenors: 办理进度 (the bare word 进度 belongs to the residents' 我的) -----------------------


def cmd_progress(ctx: Ctx, rest: str) -> list[str]:
    """办理进度 [序号 百分比 说明]：看责任事项，更新办理进度（100% 为办结），告诉关心它的群众。"""
    items = followup.open_items(ctx.session, room_ids=_rooms(ctx))
    tz = ctx.settings.timezone
    if not rest.strip():
        if not items:
            return ["您的议事室目前没有在办的责任事项。"]
        lines = [followup.item_line(i, now=ctx.now, tz=tz) for i in items[:MAX_LISTED]]
        return [
            "在办的责任事项：\n" + numbered(lines) + "\n\n"
            "回复「办理进度 序号 百分比 说明」更新，如「办理进度 1 60% 已完成主体施工」；100% 为办结。"
        ]
    match = NUMBER_REST.match(rest)
    if match is None:
        return ["请写成「办理进度 序号 百分比 说明」，如「办理进度 1 60% 已完成主体施工」。发「办理进度」查看序号。"]
    number = int(match.group(1))
    if not 1 <= number <= len(items):
        return [f"没有第 {number} 项在办的责任事项。发「办理进度」查看序号。"]
    item = items[number - 1]
    data = _item_data(ctx, item)
    after = match.group(2).strip()
    if after:
        parsed = followup.parse_percent(after)
        if isinstance(parsed, str):
            return [parsed]
        data.update(percent=parsed[0], note=parsed[1] or "")
    return _start(ctx, "followup_progress", data)


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
        roles=CONVENOR,
    ),
    Command(
        "办理进度",
        ("办理进度", "更新进度", "责任进度", "责任事项"),
        cmd_progress,
        "更新责任事项进度，如「办理进度 1 60」",
        roles=CONVENOR,
    ),
]
