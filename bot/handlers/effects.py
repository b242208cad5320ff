"""What a finished dialog does: the writes, all in the message's transaction."""

from __future__ import annotations

from collections.abc import Callable

from bot.context import Ctx
from bot.dialogs.engine import Data
from bot.handlers import broadcast, followup, lists, live, review, sessions
from bot.services import proposals, suggestions
from bot.services.proposals import NewProposal
from bot.text import shorten

Effect = Callable[[Ctx, Data], list[str]]


def _remember_room(ctx: Ctx, data: Data) -> None:
    ctx.person.last_room_id = int(data["room_id"])


def file_proposal(ctx: Ctx, data: Data) -> list[str]:
    sealed = data.get("phone")
    proposal = proposals.file_proposal(
        ctx.session,
        new=NewProposal(
            room_id=int(data["room_id"]),
            proposer_id=ctx.person.id,
            description=str(data["description"]),
            source=str(data.get("source") or "resident"),
            photo_url=data.get("photo_url") or None,
            photo_media_id=data.get("photo_media_id") or None,
            location_label=data.get("location_label") or None,
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            phone_masked=data.get("phone_masked") or None,
            phone_cipher=str(sealed) if sealed else None,
        ),
        now=ctx.now,
    )
    _remember_room(ctx, data)
    return [
        f"提交成功！您的提议已送到「{data['room_name']}」。\n"
        f"受理编号：{proposal.receipt}\n"
        "召集人审核后会通知您进展。发送「我的」或这个编号可随时查看。"
    ]


def support_proposal(ctx: Ctx, data: Data) -> list[str]:
    receipt = str(data["support_receipt"])
    added = proposals.support(ctx.session, proposal_id=int(data["support_id"]), person_id=ctx.person.id, now=ctx.now)
    _remember_room(ctx, data)
    if not added:
        return [f"您已经是 {receipt} 的提议人或附议人了，有进展会通知您。"]
    return [f"已附议 {receipt}。这条提议有进展时，您会和提议人一起收到通知。\n发送「我的」可随时查看。"]


def file_suggestion(ctx: Ctx, data: Data) -> list[str]:
    note = suggestions.file_suggestion(
        ctx.session, room_id=int(data["room_id"]), person_id=ctx.person.id, text=str(data["text"]), now=ctx.now
    )
    # A running online/onsite session in that room shows it on its live page (场外协商、场内回应).
    running = live.running_live_session(ctx.session, room_id=note.room_id, now=ctx.now)
    if running is not None:
        note.session_id = running.id
    _remember_room(ctx, data)
    return [
        f"微建言已提交给「{data['room_name']}」：{shorten(note.text, 30)}\n编号：{note.receipt}\n有答复时会通知您。"
    ]


def drop_offer(_ctx: Ctx, _data: Data) -> list[str]:
    return ["好的，不提交。需要时发送「提议题」或「微建言」。"]


EFFECTS: dict[str, Effect] = {
    "file_proposal": file_proposal,
    "support_proposal": support_proposal,
    "file_suggestion": file_suggestion,
    "drop_offer": drop_offer,
    "send_broadcast": broadcast.send_broadcast,
    **review.EFFECTS,
    **sessions.EFFECTS,
    **lists.EFFECTS,
    **followup.EFFECTS,
}
