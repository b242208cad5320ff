"""Scanning a 民生码: a room's code starts 提议题 in that room; an item's code shows the item, offers 附议
and, once its result is out, asks for a rating (回头看 follows like any result's). Each scan is counted."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.context import Ctx
from bot.handlers import resident
from bot.services import opinion_rounds, proposals, qrcodes
from bot.services.privacy import mask_phones
from bot.services.proposals import CLOSED
from storage.models import Proposal, Room

log = logging.getLogger(__name__)

FOLLOWED = "欢迎关注「有事好商量」！"
RATE_HINT = "请评价这个结果：回复「满意」「基本满意」或「不满意」，可附一句意见。"


@dataclass(frozen=True)
class Scanned:
    room: Room | None = None
    proposal: Proposal | None = None


def scanned(ctx: Ctx) -> Scanned | None:
    """The room or item whose code this event is a scan of (the scan counted), or None: not a scan we know."""
    scene = qrcodes.scanned_scene(ctx.msg.event, ctx.msg.event_key)
    if scene is None:
        return None
    code = qrcodes.record_scan(ctx.session, scene=scene, now=ctx.now)
    room = qrcodes.room_of_scene(ctx.session, scene=scene)
    proposal = None if room is not None else qrcodes.proposal_of_scene(ctx.session, scene=scene)
    if room is None and proposal is None:
        log.info("scan of an unknown scene (%s kept)", "a code" if code is not None else "no code")
        return None
    return Scanned(room, proposal)


def on_scan(ctx: Ctx, found: Scanned) -> list[str]:
    lead = FOLLOWED + "\n" if ctx.msg.event in qrcodes.FOLLOW_SCANS else ""
    if found.room is not None:
        room = found.room
        replies = ctx.dialogs.start("propose", {"room_id": room.id, "room_name": room.name})
        # Someone at the room's site is asked the room's open 征求意见 too (its first statement comes after).
        asking = opinion_rounds.open_round(ctx.session, room_id=room.id)
        if asking is not None:
            opinion_rounds.join(ctx.session, round_=asking, person_id=ctx.person_id, now=ctx.now)
        return [f"{lead}您扫描的是「{room.name}」的民生码，有什么问题想提给这个议事室？\n{replies[0]}", *replies[1:]]
    assert found.proposal is not None
    return _show_item(ctx, found.proposal, lead)


def _show_item(ctx: Ctx, proposal: Proposal, lead: str) -> list[str]:
    lines = [lead + resident.proposal_detail(ctx, proposal, offer=False)]
    results = qrcodes.published_results(ctx.session, proposal_id=proposal.id)
    for item in results:
        lines.append(f"办理结果：{mask_phones(item.result or item.text)}")
    if results and qrcodes.hand_results(ctx.session, proposal_id=proposal.id, person_id=ctx.person_id, now=ctx.now):
        lines.append(RATE_HINT)
        lines.append("结果公布一段时间后，还会问您问题是否真正解决（回头看）。")
    text = "\n".join(lines)
    related = proposals.is_related(ctx.session, proposal=proposal, person_id=ctx.person_id)
    if proposal.status in CLOSED or related:
        if related and proposal.status not in CLOSED:
            text += "\n您已是这条提议的提议人或附议人，有进展会通知您。"
        return [text]
    offer = ctx.dialogs.start("scan", {"support_id": proposal.id, "support_receipt": proposal.receipt})
    return [text, *offer]
