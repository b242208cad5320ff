"""Residents rating a published result: 满意 / 基本满意 / 不满意 on its own, or 评价 with a number or receipt.

Every reply names the item it rated. With several results waiting, the bot lists them and asks
which (a numbered question, bot/dialogs/picks.py): a rating is never guessed onto the first.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.context import Ctx
from bot.dialogs.engine import Data
from bot.handlers.registry import Command
from bot.services import followup, ratings, staff_notices
from bot.services.proposals import split_receipt
from bot.text import split_number
from storage.models import ResultDelivery

USAGE = "请写成「评价 序号 满意」，评价可以是「满意」「基本满意」或「不满意」，后面可附一句意见。"


def try_pending(ctx: Ctx) -> list[str] | None:
    """满意 (or 不满意，灯还是不亮) from someone with a result waiting for their rating; None otherwise."""
    parsed = ratings.parse_rating(ctx.msg.text)
    if parsed is None:
        return None
    waiting = ratings.pending(ctx.session, person_id=ctx.person_id)
    if not waiting:
        return None
    return _rate_or_ask(ctx, waiting, *parsed)


def cmd_rate(ctx: Ctx, rest: str) -> list[str]:
    """评价 [序号或编号] 满意 [意见]：评价收到的办理结果。"""
    waiting = ratings.pending(ctx.session, person_id=ctx.person_id)
    if not waiting:
        return ["您目前没有待评价的结果。收到办理结果后，可以回复「满意」「基本满意」或「不满意」。"]
    receipt, words = split_receipt(rest)
    if receipt is not None:
        waiting = [d for d in waiting if ratings.receipt_of(ctx.session, d) == receipt]
        if not waiting:
            return [f"{receipt} 没有待您评价的结果，请核对编号。发「评价」查看待评价的结果。"]
    number, words = split_number(words) if receipt is None else (None, words)
    if number is not None:
        if not 1 <= number <= len(waiting):
            return [f"没有第 {number} 项待评价的结果。发「评价」查看序号。"]
        waiting = [waiting[number - 1]]
    parsed = ratings.parse_rating(words, loose=number is None and len(waiting) == 1) if words else None
    if words and parsed is None:
        return [USAGE]
    if parsed is None:
        return _ask(ctx, waiting, {})
    return _rate_or_ask(ctx, waiting, *parsed)


def _rate_or_ask(ctx: Ctx, waiting: list[ResultDelivery], rating: str, comment: str | None) -> list[str]:
    if len(waiting) == 1:
        return _then_the_rest(ctx, [_store(ctx, waiting[0], rating, comment)])
    return _ask(ctx, waiting, {"rating": rating, "comment": comment})


def _ask(ctx: Ctx, waiting: list[ResultDelivery], known: Data) -> list[str]:
    items = [[d.id, ratings.label(ctx.session, d), ratings.receipt_of(ctx.session, d) or ""] for d in waiting]
    return ctx.dialogs.start("rate", {"items": items, **known})


def rate_results(ctx: Ctx, data: Data) -> list[str]:
    """Effect of the rate question: the rating for each item picked, then what is still waiting."""
    waiting = {d.id: d for d in ratings.pending(ctx.session, person_id=ctx.person_id)}
    picked = [waiting[int(i)] for i in data.get("picks") or [] if int(i) in waiting]
    if not picked:
        return ["这些结果已经评价过了，不用再评。"]
    return _then_the_rest(ctx, [_store(ctx, d, str(data["rating"]), data.get("comment")) for d in picked])


def _then_the_rest(ctx: Ctx, said: list[str]) -> list[str]:
    """After rating some, the ones still waiting are listed again (only when there are any)."""
    left = ratings.pending(ctx.session, person_id=ctx.person_id)
    return ["\n".join(said), *(_ask(ctx, left, {}) if left else [])]


def _store(ctx: Ctx, delivery: ResultDelivery, rating: str, comment: str | None) -> str:
    label = ratings.label(ctx.session, delivery)
    ratings.rate(ctx.session, delivery=delivery, rating=rating, comment=comment, now=ctx.now)
    room_id = followup.room_of(ctx.session, delivery)
    if rating == "unsatisfied" and room_id is not None:  # told at once: someone is unhappy with a result
        said = f"，意见：{comment}" if comment else "（没有写意见）"
        line = f"群众对结果「{label}」评价「不满意」{said}"
        staff_notices.tell(
            ctx.session,
            room_id=room_id,
            line=line,
            urgent=True,
            key=f"unsatisfied:{delivery.id}",
            now=ctx.now,
            settings=ctx.settings,
        )
    note = "您的意见已记下。" if comment else ""
    return f"已收到您对「{label}」的评价「{ratings.RATING_NAMES[rating]}」，谢谢！{note}"


EFFECTS: dict[str, Callable[[Ctx, Data], list[str]]] = {"rate_results": rate_results}

COMMANDS: list[Command] = [
    Command("评价", ("评价", "评分", "我要评价"), cmd_rate, "评价办理结果，如「评价 1 满意」", inline=True),
]
