"""Resident commands (提议题, 微建言, 附议, 我的, 继续, receipt look-ups) and what their dialogs file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.clock import fmt_local
from bot.context import Ctx
from bot.dialogs.engine import Data
from bot.dialogs.offer import joined
from bot.handlers.moderation import tell_held
from bot.handlers.registry import Command
from bot.roles import CONVENORS
from bot.services import (
    attachments,
    clocks,
    live,
    moderation,
    people,
    proposals,
    rooms,
    staff_notices,
    suggestions,
    threshold,
)
from bot.services.privacy import mask_phones
from bot.services.proposals import CLOSED, STATUS_NAMES, NewProposal, find_receipt, split_receipt
from bot.services.rooms import RoomRef
from bot.services.suggestions import NewSuggestion
from bot.text import shorten
from storage.models import Attachment, Proposal, Suggestion

MAX_LISTED = 10
MEDIA_KEYS = ("photos", "latitude", "longitude", "location_label")


def remembered_room(ctx: Ctx) -> Data:
    """The room this person's proposals go to, unless they choose another (换议事室)."""
    seen = ctx.last_room
    return {"room_id": seen.id, "room_name": seen.name} if seen is not None else {}


def cmd_mine(ctx: Ctx, _rest: str) -> list[str]:
    """我的：我提交和附议的每一条，状态和最新答复。"""
    items = proposals.proposals_of(ctx.session, person_id=ctx.person_id)
    notes = suggestions.suggestions_of(ctx.session, person_id=ctx.person_id)
    if not items and not notes:
        return ["您还没有提交过提议或微建言。发送「提议题」或「微建言」开始。"]
    # One list, newest first, proposals and micro-suggestions together.
    mixed: list[Proposal | Suggestion] = sorted([*items, *notes], key=lambda i: (i.created_at, i.id), reverse=True)
    lines = ["您的提议和微建言（最新在前）："]
    for item in mixed[:MAX_LISTED]:
        lines.append(_mine_line(ctx, item) if isinstance(item, Proposal) else _note_line(ctx, item))
    if len(mixed) > MAX_LISTED:
        lines.append(f"……还有 {len(mixed) - MAX_LISTED} 条较早的记录。")
    lines.append("回复编号（如 YS-2026-000123）查看详情。")
    return ["\n".join(lines)]


def _mine_line(ctx: Ctx, proposal: Proposal) -> str:
    own = proposal.proposer_id == ctx.person_id
    mark, text = ("", proposal.description) if own else ("［附议］", mask_phones(proposal.description))
    return (
        f"· {proposal.receipt} {mark}{shorten(text, 18)}\n"
        f"  状态：{STATUS_NAMES.get(proposal.status, proposal.status)}{_latest_answer(ctx, proposal)}"
        f"{_clocks_part(ctx, proposal)}"
    )


def _clocks_part(ctx: Ctx, proposal: Proposal) -> str:
    return "".join(_due_part(ctx, due, name) for name, due in clocks.running(proposal))


def _due_part(ctx: Ctx, due: datetime | None, name: str = "答复期限") -> str:
    """When the room owes an answer (a limit in working days), and whether it is late."""
    if due is None:
        return ""
    late = "，已逾期" if due <= ctx.now else ""
    return f"\n  {name}：{_due_label(ctx, due)}{late}"


def _note_line(ctx: Ctx, note: Suggestion) -> str:
    answer = f"；答复：{shorten(note.answer, 30)}" if note.answer else ""
    due = note.answer_due_at if note.status in suggestions.UNANSWERED else None
    return (
        f"· {note.receipt} 微建言：{shorten(note.text, 18)}\n"
        f"  状态：{suggestions.STATUS_NAMES.get(note.status, note.status)}{answer}{_due_part(ctx, due)}"
    )


def _latest_answer(ctx: Ctx, proposal: Proposal) -> str:
    change = proposals.latest_answer(ctx.session, proposal_id=proposal.id)
    return f"；最新答复：{shorten(change.reason or '', 30)}" if change is not None else ""


def show_receipt(ctx: Ctx, text: str) -> list[str] | None:
    """A receipt number alone shows that item: in full to the people it belongs to, in public to others."""
    receipt = find_receipt(text)
    if receipt is None:
        return None
    if receipt.startswith("YS"):
        proposal = proposals.by_receipt(ctx.session, receipt=receipt)
        if proposal is None:
            return [f"没有找到编号为 {receipt} 的提议。请核对编号，或发送「我的」查看您的全部记录。"]
        if not may_see(ctx, proposal):
            return [_public_detail(ctx, proposal)]
        return [_proposal_detail(ctx, proposal)]
    note = suggestions.by_receipt(ctx.session, receipt=receipt)
    if note is None or note.person_id != ctx.person_id:
        return [f"没有找到您编号为 {receipt} 的微建言。请核对编号，或发送「我的」查看您的全部记录。"]
    return [_suggestion_detail(ctx, note)]


def may_see(ctx: Ctx, proposal: Proposal) -> bool:
    """Its proposer and supporters, and the convenors of its room."""
    return proposals.is_related(ctx.session, proposal=proposal, person_id=ctx.person_id) or _convenes(ctx, proposal)


def _convenes(ctx: Ctx, proposal: Proposal) -> bool:
    return any(
        r.room_id == proposal.room_id and r.role in CONVENORS
        for r in people.roles_of(ctx.session, person_id=ctx.person_id)
    )


def _description(ctx: Ctx, proposal: Proposal) -> str:
    """Its text as this person may read it: phone numbers in it masked unless they wrote it or convene its room."""
    if proposal.proposer_id == ctx.person_id or _convenes(ctx, proposal):
        return proposal.description
    return mask_phones(proposal.description)


def proposal_detail(ctx: Ctx, proposal: Proposal, *, offer: bool = True) -> str:
    """The proposal as this person may see it: in full to its people and convenors, in public to others
    (with the line offering 附议 unless `offer` is false)."""
    if may_see(ctx, proposal):
        return _proposal_detail(ctx, proposal)
    return _public_detail(ctx, proposal, offer=offer)


def _public_detail(ctx: Ctx, proposal: Proposal, *, offer: bool = True) -> str:
    """What anyone may read of someone else's proposal: no names, no phone, no photos."""
    counts = proposals.supporter_counts(ctx.session, proposal_ids=[proposal.id])
    lines = [
        f"提议 {proposal.receipt}（{proposal.room.name}）",
        # Held for a sensitive word or hidden by a convenor: its words are not public (the rest is).
        f"内容：{shorten(mask_phones(proposal.description), 80)}"
        if moderation.is_visible(proposal)
        else "内容：暂不公开",
        f"当前状态：{STATUS_NAMES.get(proposal.status, proposal.status)}，附议 {counts.get(proposal.id, 0)} 人",
    ]
    if offer and proposal.status not in CLOSED:
        lines.append(f"您也关心这件事？发「附议 {proposal.receipt}」支持它，有进展会通知您。")
    return "\n".join(lines)


def _proposal_detail(ctx: Ctx, proposal: Proposal) -> str:
    tz = ctx.settings.timezone
    lines = [
        f"提议 {proposal.receipt}",
        f"议事室：{proposal.room.name}",
        f"内容：{_description(ctx, proposal)}",
        *_sent_along(attachments.of_proposal(ctx.session, proposal_id=proposal.id), proposal.location_label),
        f"提交时间：{fmt_local(proposal.created_at, tz)}",
        f"当前状态：{STATUS_NAMES.get(proposal.status, proposal.status)}{_clocks_part(ctx, proposal)}",
    ]
    counts = proposals.supporter_counts(ctx.session, proposal_ids=[proposal.id])
    if counts.get(proposal.id):
        lines.append(f"附议人数：{counts[proposal.id]}")
    lines.append("进展：")
    for change in proposals.history(ctx.session, proposal_id=proposal.id):
        reason = f"（{change.reason}）" if change.reason else ""
        lines.append(
            f"· {fmt_local(change.created_at, tz)} {STATUS_NAMES.get(change.to_status, change.to_status)}{reason}"
        )
    return "\n".join(lines)


def _sent_along(kept: list[Attachment], place: str | None = None) -> list[str]:
    """照片：3 张 and 位置：… lines for what was sent with an item."""
    photos = sum(1 for a in kept if a.kind == "image")
    place = place or next((a.label or "已发送的位置" for a in kept if a.kind == "location"), None)
    return [*([f"照片：{photos} 张"] if photos else []), *([f"位置：{place}"] if place else [])]


def _suggestion_detail(ctx: Ctx, note: Suggestion) -> str:
    lines = [
        f"微建言 {note.receipt}",
        f"议事室：{note.room.name}",
        f"内容：{note.text}",
        *_sent_along(attachments.of_suggestion(ctx.session, suggestion_id=note.id)),
        f"提交时间：{fmt_local(note.created_at, ctx.settings.timezone)}",
        f"当前状态：{suggestions.STATUS_NAMES.get(note.status, note.status)}",
    ]
    if note.answer:
        lines.append(f"答复：{note.answer}")
    return "\n".join(lines)


def cmd_propose(ctx: Ctx, rest: str) -> list[str]:
    """提议题：提出一个需要大家协商的问题。"""
    data = remembered_room(ctx)
    if len(rest.strip()) >= 5:
        data["description"] = rest.strip()
    return ctx.dialogs.start("propose", data)


def cmd_suggest(ctx: Ctx, rest: str) -> list[str]:
    """微建言：给议事室提一条简短的建议。"""
    data = remembered_room(ctx)
    if len(rest.strip()) >= 2:
        data["text"] = rest.strip()
    return ctx.dialogs.start("suggest", data)


def cmd_support(ctx: Ctx, rest: str) -> list[str]:
    """附议 编号：支持别人的一条提议，有进展时和提议人一起收到通知。"""
    receipt, _words = split_receipt(rest)
    if receipt is None or not receipt.startswith("YS"):
        return ["请写成「附议 编号」，如「附议 YS-2026-000123」。编号在提议人的回执或议事室的公示里。"]
    proposal = proposals.by_receipt(ctx.session, receipt=receipt)
    if proposal is None:
        return [f"没有找到编号为 {receipt} 的提议，请核对编号。"]
    if proposal.status in CLOSED:
        status = STATUS_NAMES.get(proposal.status, proposal.status)
        return [f"{receipt}「{shorten(mask_phones(proposal.description), 20)}」已经是「{status}」，不能再附议了。"]
    return _support(ctx, proposal)


def cmd_resume(ctx: Ctx, _rest: str) -> list[str]:
    """继续：接着填写上次没填完的内容。"""
    resumed = ctx.dialogs.resume_latest()
    return resumed if resumed is not None else ["没有未填完的草稿。发「提议题」或「微建言」开始新的。"]


# --- what the resident dialogs file ----------------------------------------------------------------


def file_proposal(ctx: Ctx, data: Data) -> list[str]:
    sealed = data.get("phone")
    photos = list(data.get("photos") or [])
    first = photos[0] if photos else ["", ""]
    room = _chosen_room(ctx, data)
    description = str(data["description"])
    found = moderation.matches(ctx.session, description)  # held for a convenor's 公开 / 隐藏
    due = clocks.first_answer_due(ctx.now, clocks.Limits.of(ctx.settings))
    filed = proposals.file(
        ctx.session,
        new=NewProposal(
            room_id=room.id,
            proposer_id=ctx.person_id,
            description=description,
            source=str(data.get("source") or "resident"),
            photo_url=first[1] or None,
            photo_media_id=first[0] or None,
            location_label=data.get("location_label") or None,
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            phone_masked=data.get("phone_masked") or None,
            phone_cipher=str(sealed) if sealed else None,
            held=bool(found),
            answer_due_at=due.answer,
            escalate_at=due.escalate,
        ),
        now=ctx.now,
        room_name=room.name,
    )
    attachments.attach(ctx.session, proposal_id=filed.id, photos=photos, fetch_from=_fetch_from(ctx), now=ctx.now)
    ctx.remember_room(room)
    if found:
        tell_held(ctx, room_id=room.id, receipt=filed.receipt, text=description, found=found, key=filed.receipt)
    _tell_convenors(ctx, room.id, f"新提议 {filed.receipt}「{shorten(description, 30)}」", f"proposal:{filed.id}")
    return [
        f"提交成功！您的提议已送到「{data['room_name']}」。\n"
        f"受理编号：{filed.receipt}\n"
        f"议事室将在 {_due_label(ctx, due.answer)} 前答复（{ctx.settings.proposal_answer_workdays} 个工作日内），"
        "有进展会通知您。发送「我的」或这个编号可随时查看。"
    ]


def support_proposal(ctx: Ctx, data: Data) -> list[str]:
    proposal = ctx.session.get(Proposal, int(data["support_id"]))
    if proposal is None:
        return [f"{data['support_receipt']} 已不存在，没有附议。"]
    ctx.remember_room(RoomRef(proposal.room_id, proposal.room.name))
    return _support(ctx, proposal)


def _support(ctx: Ctx, proposal: Proposal) -> list[str]:
    added = proposals.support(ctx.session, proposal_id=proposal.id, person_id=ctx.person_id, now=ctx.now)
    about = f"{proposal.receipt}「{shorten(mask_phones(proposal.description), 20)}」"
    if not added:
        return [f"您已经是 {about} 的提议人或附议人了，有进展会通知您。"]
    count = proposals.supporter_counts(ctx.session, proposal_ids=[proposal.id]).get(proposal.id, 0)
    line = f"附议 {proposal.receipt}「{shorten(proposal.description, 20)}」，现 {count} 人附议"
    _tell_convenors(ctx, proposal.room_id, line, f"support:{proposal.id}:{ctx.person_id}")
    reached = threshold.check(
        ctx.session, proposal=proposal, actor_id=ctx.person_id, now=ctx.now, settings=ctx.settings
    )
    news = f"\n{threshold.news(count, _due_label(ctx, proposal.decision_due_at))}\n" if reached else ""
    return [f"已附议 {about}。{news}这条提议有进展时，您会和提议人一起收到通知。\n发送「我的」可随时查看。"]


def file_suggestion(ctx: Ctx, data: Data) -> list[str]:
    room_id, text = int(data["room_id"]), str(data["text"])
    found = moderation.matches(ctx.session, text)  # held for a convenor's 公开 / 隐藏
    # A running online/onsite session in that room shows it on its live page (场外协商、场内回应).
    running = live.running_session(ctx.session, room_id=room_id, now=ctx.now)
    due = clocks.suggestion_answer_due(ctx.now, clocks.Limits.of(ctx.settings))
    filed = suggestions.file(
        ctx.session,
        new=NewSuggestion(
            room_id=room_id,
            person_id=ctx.person_id,
            text=text,
            session_id=running.id if running is not None else None,
            held=bool(found),
            answer_due_at=due.answer,
            escalate_at=due.escalate,
        ),
        now=ctx.now,
    )
    location = {k: data.get(k) for k in MEDIA_KEYS[1:]} if data.get("latitude") is not None else None
    attachments.attach(
        ctx.session,
        suggestion_id=filed.id,
        photos=list(data.get("photos") or []),
        location=location,
        fetch_from=_fetch_from(ctx),
        now=ctx.now,
    )
    if found:  # its convenors are told at once; the live page leaves it out until 公开
        tell_held(ctx, room_id=room_id, receipt=filed.receipt, text=text, found=found, key=filed.receipt)
    else:
        _tell_convenors(ctx, room_id, f"新微建言 {filed.receipt}「{shorten(text, 30)}」", f"suggestion:{filed.id}")
    if ctx.last_room is None:  # a 微建言 elsewhere does not move where proposals go
        ctx.remember_room(_chosen_room(ctx, data))
    return [
        f"微建言已提交给「{data['room_name']}」：{shorten(text, 30)}\n编号：{filed.receipt}\n"
        f"议事室将在 {_due_label(ctx, due.answer)} 前答复（{ctx.settings.suggestion_answer_workdays} 个工作日内），"
        "有答复时会通知您。"
    ]


def _chosen_room(ctx: Ctx, data: Data) -> RoomRef:
    """The room the dialog chose, with the name it showed (read only for a draft saved without one)."""
    room_id = int(data["room_id"])
    return RoomRef(room_id, str(data.get("room_name") or rooms.name_of(ctx.session, room_id=room_id)))


def _due_label(ctx: Ctx, due: datetime | None) -> str:
    return clocks.day_label(due, ctx.settings.timezone) if due is not None else "近期"


def _tell_convenors(ctx: Ctx, room_id: int, line: str, key: str) -> None:
    staff_notices.tell(ctx.session, room_id=room_id, line=line, key=key, now=ctx.now, settings=ctx.settings)


def _fetch_from(ctx: Ctx) -> str | None:
    """Whose media API holds the photos this person sent (none behind the simulator's)."""
    return None if ctx.msg.simulated else ctx.msg.channel


def _carried(ctx: Ctx, data: Data) -> Data:
    """What an offer hands on: its room, photos and location."""
    kept: Data = {k: data[k] for k in ("room_id", "room_name", *MEDIA_KEYS) if data.get(k) is not None}
    return {**remembered_room(ctx), **kept}


def offer_suggest(ctx: Ctx, data: Data) -> list[str]:
    text = joined(data)
    return ctx.dialogs.start("suggest", {**_carried(ctx, data), **({"text": text} if text else {})})


def offer_propose(ctx: Ctx, data: Data) -> list[str]:
    text = joined(data)
    return ctx.dialogs.start("propose", {**_carried(ctx, data), **({"description": text} if len(text) >= 5 else {})})


def offer_drop(_ctx: Ctx, _data: Data) -> list[str]:
    return ["好的，不提交。需要时发送「提议题」或「微建言」。"]


EFFECTS: dict[str, Callable[[Ctx, Data], list[str]]] = {
    "file_proposal": file_proposal,
    "support_proposal": support_proposal,
    "file_suggestion": file_suggestion,
    "offer_suggest": offer_suggest,
    "offer_propose": offer_propose,
    "offer_drop": offer_drop,
}

COMMANDS: list[Command] = [
    Command(
        "提议题",
        ("提议题", "提议", "出题", "群众出题", "提个议题", "我要提议", "议题"),
        cmd_propose,
        "提出一个需要大家协商的问题",
        menu_key="PROPOSE",
        inline=True,
    ),
    Command(
        "微建言",
        ("微建言", "建言", "提建议", "我要建言"),
        cmd_suggest,
        "提一条简短的建议",
        menu_key="SUGGEST",
        inline=True,
    ),
    Command(
        "附议",
        ("附议", "我附议", "支持提议"),
        cmd_support,
        "支持别人的提议，如「附议 编号」",
        inline=True,
    ),
    Command(
        "我的",
        ("我的", "我的提议", "查询", "进度", "查进度", "我的事项"),
        cmd_mine,
        "查看我提交和附议的事项及进展",
        menu_key="MINE",
    ),
    Command("继续", ("继续", "接着填", "恢复草稿"), cmd_resume, "接着填写上次没填完的草稿"),
]
