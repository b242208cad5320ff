"""Residents rating a published result (满意/基本满意/不满意) and the 评价 command."""

from __future__ import annotations

from bot.context import Ctx
from bot.services import followup, ratings
from bot.services.proposals import split_receipt
from bot.text import numbered
from storage.models import ResultDelivery

THANKS = "已收到您的评价「{name}」，谢谢！{comment}"


def try_rate(ctx: Ctx, text: str) -> list[str] | None:
    """A rating (bare word or 评价 编号 满意) from someone with an unrated result; None (fall through) otherwise."""
    stripped = text.strip()
    if stripped.startswith(("评价", "评分")):
        if not ratings.pending(ctx.session, person_id=ctx.person.id):
            return None
        return cmd_rate(ctx, stripped[2:].lstrip(" :：，,　"))
    parsed = ratings.parse_rating(text)
    if parsed is None:
        return None
    if stripped[:1].isdigit() and followup.pending(ctx.session, person_id=ctx.person.id, now=ctx.now):
        return None  # a bare digit answers the open "was it solved?" question (1/2/3), not the rating
    waiting = ratings.pending(ctx.session, person_id=ctx.person.id)
    if not waiting:
        return None
    if len(waiting) > 1:
        labels = [ratings.label(ctx.session, d) for d in waiting]
        return [
            "您有几项结果待评价，请发「评价 编号 满意」说明评哪一项，例如「评价 YS-2026-000001 满意」：\n"
            + numbered(labels)
        ]
    return _store(ctx, waiting[0], *parsed)


def cmd_rate(ctx: Ctx, rest: str) -> list[str]:
    """评价 YS-2026-000001 满意 [意见]."""
    receipt, words = split_receipt(rest)
    parsed = ratings.parse_rating(words)
    waiting = ratings.pending(ctx.session, person_id=ctx.person.id)
    if not waiting:
        return ["您目前没有待评价的结果。"]
    if parsed is None:
        return ["请写成「评价 编号 满意」，评价可以是「满意」「基本满意」或「不满意」，后面可附一句意见。"]
    if receipt is None:
        if len(waiting) == 1:
            return _store(ctx, waiting[0], *parsed)
        labels = [ratings.label(ctx.session, d) for d in waiting]
        return ["请在「评价」后写上编号，例如「评价 YS-2026-000001 满意」。待评价的有：\n" + numbered(labels)]
    match = [d for d in waiting if ratings.receipt_of(ctx.session, d) == receipt]
    if not match:
        return [f"{receipt} 没有待您评价的结果，请核对编号。"]
    return _store(ctx, match[0], *parsed)


def _store(ctx: Ctx, delivery: ResultDelivery, rating: str, comment: str | None) -> list[str]:
    ratings.rate(ctx.session, delivery=delivery, rating=rating, comment=comment, now=ctx.now)
    note = "您的意见已记下。" if comment else ""
    return [THANKS.format(name=ratings.RATING_NAMES[rating], comment=note)]
