"""通知方式: a convenor chooses how they hear of new proposals, 微建言, 附议 and 请假 (batched or each)."""

from __future__ import annotations

from bot.context import Ctx
from bot.handlers.registry import Command
from bot.roles import CONVENORS
from bot.services.staff_notices import BATCHED, IMMEDIATE, MODE_NAMES, mode_of
from bot.text import choose

WORDS = [("汇总", "汇总通知", "批量", "合并通知"), ("逐条", "逐条通知", "即时", "马上", "每条")]


def cmd_notice_mode(ctx: Ctx, rest: str) -> list[str]:
    """通知方式 [汇总|逐条]：新提议、新微建言、附议、请假是汇总成一条发，还是逐条马上发。"""
    minutes = int(ctx.settings.notice_batch_interval.total_seconds() // 60) or 30
    day = f"{ctx.settings.notice_day_start:%H:%M}–{ctx.settings.notice_day_end:%H:%M}"
    explained = {
        BATCHED: f"汇总通知：白天（{day}）每 {minutes} 分钟汇总成一条",
        IMMEDIATE: "逐条通知：每条新情况马上发给您",
    }
    index = choose(rest, [MODE_NAMES[BATCHED], MODE_NAMES[IMMEDIATE]], aliases=WORDS) if rest.strip() else None
    if index is None:
        now = mode_of(ctx.person, ctx.settings)
        other = IMMEDIATE if now == BATCHED else BATCHED
        return [
            f"您现在是「{explained[now]}」。群众反映没解决、评价不满意时，总是马上通知您。\n"
            f"想改为{explained[other]}，请发「通知方式 {MODE_NAMES[other][:2]}」。"
        ]
    chosen = (BATCHED, IMMEDIATE)[index]
    ctx.person.notice_mode = chosen
    return [f"好的，改为「{explained[chosen]}」。随时可以再发「通知方式」更改。"]


COMMANDS: list[Command] = [
    Command(
        "通知方式",
        ("通知方式", "提醒方式", "动态通知"),
        cmd_notice_mode,
        "新提议等动态汇总发还是逐条发",
        roles=CONVENORS,
    ),
]
