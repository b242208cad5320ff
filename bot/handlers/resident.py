"""Resident commands: 提议题, 微建言, 我的, receipt look-ups, 帮助, 继续."""

from __future__ import annotations

from bot import conversation
from bot.clock import fmt_local
from bot.context import Ctx
from bot.handlers.registry import Command
from bot.services import people, proposals, suggestions
from bot.services.proposals import STATUS_NAMES, find_receipt
from bot.text import shorten
from storage.models import Proposal, Suggestion

MAX_LISTED = 10


def remembered_room(ctx: Ctx) -> dict[str, object]:
    room = ctx.person.last_room
    return {"room_id": room.id, "room_name": room.name} if room is not None else {}


def cmd_mine(ctx: Ctx, _rest: str) -> list[str]:
    """我的：我提交和附议的每一条，状态和最新答复。"""
    items = proposals.proposals_of(ctx.session, person_id=ctx.person.id)
    notes = suggestions.suggestions_of(ctx.session, person_id=ctx.person.id)
    if not items and not notes:
        return ["您还没有提交过提议或微建言。发送「提议题」或「微建言」开始。"]
    lines = ["您的提议和微建言（最新在前）："]
    for proposal in items[:MAX_LISTED]:
        mark = "" if proposal.proposer_id == ctx.person.id else "［附议］"
        lines.append(
            f"· {proposal.receipt} {mark}{shorten(proposal.description, 18)}\n"
            f"  状态：{STATUS_NAMES.get(proposal.status, proposal.status)}{_latest_answer(ctx, proposal)}"
        )
    for note in notes[:MAX_LISTED]:
        answer = f"；答复：{shorten(note.answer, 30)}" if note.answer else ""
        lines.append(
            f"· {note.receipt} 微建言：{shorten(note.text, 18)}\n"
            f"  状态：{suggestions.STATUS_NAMES.get(note.status, note.status)}{answer}"
        )
    hidden = max(0, len(items) - MAX_LISTED) + max(0, len(notes) - MAX_LISTED)
    if hidden:
        lines.append(f"……还有 {hidden} 条较早的记录。")
    lines.append("回复编号（如 YS-2026-000123）查看详情。")
    return ["\n".join(lines)]


def _latest_answer(ctx: Ctx, proposal: Proposal) -> str:
    change = proposals.latest_change(ctx.session, proposal_id=proposal.id)
    if change is None or not change.reason or change.to_status == "submitted":
        return ""
    return f"；最新答复：{shorten(change.reason, 30)}"


def show_receipt(ctx: Ctx, text: str) -> list[str] | None:
    """A receipt number alone shows that item, to the people it belongs to."""
    receipt = find_receipt(text)
    if receipt is None:
        return None
    if receipt.startswith("YS"):
        proposal = proposals.by_receipt(ctx.session, receipt=receipt)
        if proposal is None or not _may_see(ctx, proposal):
            return [f"没有找到编号为 {receipt} 的提议。请核对编号，或发送「我的」查看您的全部记录。"]
        return [_proposal_detail(ctx, proposal)]
    note = suggestions.by_receipt(ctx.session, receipt=receipt)
    if note is None or note.person_id != ctx.person.id:
        return [f"没有找到编号为 {receipt} 的微建言。请核对编号，或发送「我的」查看您的全部记录。"]
    return [_suggestion_detail(ctx, note)]


def _may_see(ctx: Ctx, proposal: Proposal) -> bool:
    """Its proposer and supporters, and the convenors of its room."""
    if proposals.is_related(ctx.session, proposal=proposal, person_id=ctx.person.id):
        return True
    return any(
        r.room_id == proposal.room_id and r.role == "convenor"
        for r in people.roles_of(ctx.session, person_id=ctx.person.id)
    )


def _proposal_detail(ctx: Ctx, proposal: Proposal) -> str:
    tz = ctx.settings.timezone
    lines = [
        f"提议 {proposal.receipt}",
        f"议事室：{proposal.room.name}",
        f"内容：{proposal.description}",
        f"提交时间：{fmt_local(proposal.created_at, tz)}",
        f"当前状态：{STATUS_NAMES.get(proposal.status, proposal.status)}",
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


def _suggestion_detail(ctx: Ctx, note: Suggestion) -> str:
    lines = [
        f"微建言 {note.receipt}",
        f"议事室：{note.room.name}",
        f"内容：{note.text}",
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
    return conversation.start(ctx, "propose", data)


def cmd_suggest(ctx: Ctx, rest: str) -> list[str]:
    """微建言：给议事室提一条简短的建议。"""
    data = remembered_room(ctx)
    if len(rest.strip()) >= 2:
        data["text"] = rest.strip()
    return conversation.start(ctx, "suggest", data)


def cmd_resume(ctx: Ctx, _rest: str) -> list[str]:
    """继续：接着填写上次没填完的内容。"""
    state = conversation.current(ctx)
    if state is None or state.status != "draft":
        return ["没有未填完的草稿。发「提议题」或「微建言」开始新的。"]
    return conversation.resume_draft(ctx, state)


COMMANDS: list[Command] = [
    Command(
        "提议题",
        ("提议题", "提议", "出题", "群众出题", "提个议题", "我要提议", "议题"),
        cmd_propose,
        "提出一个需要大家协商的问题",
        menu_key="PROPOSE",
    ),
    Command("微建言", ("微建言", "建言", "提建议", "我要建言"), cmd_suggest, "提一条简短的建议", menu_key="SUGGEST"),
    Command(
        "我的",
        ("我的", "我的提议", "查询", "进度", "查进度", "我的事项"),
        cmd_mine,
        "查看我提交和附议的事项及进展",
        menu_key="MINE",
    ),
    Command("继续", ("继续", "接着填", "恢复草稿"), cmd_resume, "接着填写上次没填完的草稿"),
]
