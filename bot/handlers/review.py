"""待审 and the one-line review actions (受理, 合并, 不予采纳, 审定, 报上级, 退回) for convenors, and their effect.

The list and every action run in the `review` dialog, which keeps the numbers that were shown; the
effect re-checks everything in the service (room, transition) before it writes.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from bot.clock import local
from bot.context import Ctx, DbLookups
from bot.dialogs.engine import Data, Retry
from bot.dialogs.review import take
from bot.handlers.registry import Command
from bot.roles import CONVENORS
from bot.services import clocks, escalation, priority_rounds, review, rooms
from bot.services.review import ReviewError
from bot.services.review_parse import Shortcut, parse_ref
from storage.models import Room

MAX_LISTED = 10
WORDS = {
    "": "待审",
    "accept": "受理",
    "merge": "合并",
    "decline": "不予采纳",
    "approve": "审定",
    "escalate": "报上级",
    "return": "退回",
}


def _listing(ctx: Ctx, room: Room, convened: list[Room]) -> Data:
    """Everything the review dialog shows and checks against, fixed at the moment it is shown."""
    waiting = review.queue(ctx.session, room_id=room.id, limit=MAX_LISTED, links=ctx.photo_links)
    tz = ctx.settings.timezone
    return {
        "room_id": room.id,
        "room_name": room.name,
        "parent": room.parent.name if room.parent is not None else "",
        "rooms": [r.id for r in convened],
        "others": [r.name for r in convened if r.id != room.id],
        "items": waiting.items,
        "more": max(0, waiting.total - len(waiting.items)),
        "tz": tz,
        "today": local(ctx.now, tz).date().isoformat(),
        "now": ctx.now.isoformat(),
    }


def _start(ctx: Ctx, data: Data, note: str = "") -> list[str]:
    if not data["items"] and not data.get("pick"):
        lead = f"{note}\n\n" if note else ""
        return [f"{lead}「{data['room_name']}」目前没有待审的提议。有新的提议时再发「待审」查看。"]
    return ctx.dialogs.start("review", data, note)


def _ranking(ctx: Ctx, data: Data) -> list[str]:
    """The residents' ranking of the room's open proposals (排序), after the list, when there is one."""
    result = priority_rounds.ranking(ctx.session, room_id=int(data["room_id"]))
    return ["\n".join(priority_rounds.lines(result))] if result is not None else []


def _choose_room(ctx: Ctx, query: str, convened: list[Room]) -> Room | str:
    """The convened room a rough name means, or a sentence saying why there is none."""
    names = "、".join(f"「{r.name}」" for r in convened)
    found = rooms.rooms_matching(ctx.session, query=query, limit=10)
    mine = [r for r in convened if r.id in {f.id for f in found}]
    if len(mine) == 1:
        return mine[0]
    if mine:
        return f"有几个议事室都像「{query[:20]}」：{'、'.join(r.name for r in mine)}。请写得完整一些。"
    if found:
        return f"您不是「{found[0].name}」的召集人。您担任召集人的议事室：{names}。"
    return f"没有找到名称像「{query[:20]}」的议事室。您担任召集人的议事室：{names}。"


def cmd_queue(ctx: Ctx, rest: str) -> list[str]:
    """待审：查看本议事室新收到的提议，受理、合并、不予采纳或审定为议题。"""
    convened = review.convened_rooms(ctx.session, person_id=ctx.person_id)
    if not convened:
        return ["「待审」是议事室召集人使用的功能，您目前不是任何议事室的召集人。"]
    query = rest.strip()
    if query and parse_ref(query) is not None:
        return _act(ctx, "", query)
    room = _choose_room(ctx, query, convened) if query else convened[0]
    if isinstance(room, str):
        return [room]
    data = _listing(ctx, room, convened)
    return [*_start(ctx, data), *_ranking(ctx, data)]


def _shown_list(ctx: Ctx, convened: list[Room]) -> Data:
    """The list the convenor last saw (kept with a review draft), else the current one of their room."""
    shown = ctx.dialogs.shown("review")
    if shown is not None and shown.get("items") is not None:
        kept = dict(shown)
        kept["rooms"] = [r.id for r in convened]
        kept["today"] = local(ctx.now, ctx.settings.timezone).date().isoformat()
        return kept
    return _listing(ctx, convened[0], convened)


def _act(ctx: Ctx, action: str, rest: str) -> list[str]:
    convened = review.convened_rooms(ctx.session, person_id=ctx.person_id)
    if not convened:
        return ["您目前不是任何议事室的召集人，不能处理提议。"]
    parsed = parse_ref(rest)
    if parsed is None:
        word = WORDS[action]
        return [f"请在「{word}」后写上待审列表的序号或受理编号，例如：{word} 1。发「待审」查看列表。"]
    data = _shown_list(ctx, convened)
    outcome = take(data, Shortcut(action, parsed[0], parsed[1]), DbLookups(ctx.work, ctx.photo_links))
    if isinstance(outcome, Retry):
        return [outcome.message]
    return _start(ctx, {**data, **outcome.updates}, outcome.note)


def cmd_accept(ctx: Ctx, rest: str) -> list[str]:
    """受理 序号：受理待审列表中的一条。"""
    return _act(ctx, "accept", rest)


def cmd_merge(ctx: Ctx, rest: str) -> list[str]:
    """合并 序号 到 编号：把一条提议并入同类提议。"""
    return _act(ctx, "merge", rest)


def cmd_decline(ctx: Ctx, rest: str) -> list[str]:
    """不予采纳 序号 理由：不予采纳一条提议（必须写理由）。"""
    return _act(ctx, "decline", rest)


def cmd_approve(ctx: Ctx, rest: str) -> list[str]:
    """审定 序号 审定单位 XX 日期 YYYY-MM-DD：把一条提议审定为协商议题。"""
    return _act(ctx, "approve", rest)


def cmd_escalate(ctx: Ctx, rest: str) -> list[str]:
    """报上级 编号 类别 原因：把本议事室办不了的提议报送上级议事室（作为提案线索、社情民意信息或建议）。"""
    return _act(ctx, "escalate", rest)


def cmd_return(ctx: Ctx, rest: str) -> list[str]:
    """退回 编号 原因：把下级报送来的提议退回下级议事室。"""
    return _act(ctx, "return", rest)


def _day_start(day: str, tz: str) -> datetime:
    """An approval date is a local calendar day: stored as its local midnight."""
    return datetime.combine(date.fromisoformat(day), time(0, 0), tzinfo=ZoneInfo(tz))


def _perform(ctx: Ctx, data: Data) -> str:
    """Do the confirmed action; the sentence saying what was done. Raises ReviewError, writing nothing."""
    tz = ctx.settings.timezone
    pick, action = data["pick"], str(data["action"])
    proposal = review.load(ctx.session, proposal_id=int(pick["id"]))
    if proposal is None:
        raise ReviewError(f"{pick['receipt']} 已不存在。")
    done_text = f"{pick['receipt']} 已{review.ACTION_NAMES.get(action, '')}"
    if action == "accept":
        done = review.accept(
            ctx.session,
            proposal=proposal,
            actor_id=ctx.person_id,
            now=ctx.now,
            tz=tz,
            limits=clocks.Limits.of(ctx.settings),
        )
        if proposal.decision_due_at is not None:
            done_text += f"，请在 {clocks.day_label(proposal.decision_due_at, tz)} 前审定或说明理由"
    elif action == "decline":
        reason = str(data.get("reason") or "")
        done = review.decline(ctx.session, proposal=proposal, actor_id=ctx.person_id, reason=reason, now=ctx.now, tz=tz)
    elif action == "approve":
        approved_at = _day_start(str(data["day"]), tz)
        unit = str(data.get("unit") or "")
        done = review.approve(
            ctx.session,
            proposal=proposal,
            actor_id=ctx.person_id,
            unit=unit,
            approved_at=approved_at,
            now=ctx.now,
            tz=tz,
        )
    elif action == "merge":
        target = review.load(ctx.session, proposal_id=int(data["target"]["id"]))
        if target is None:
            raise ReviewError(f"{data['target']['receipt']} 已不存在。")
        done = review.merge(ctx.session, proposal=proposal, target=target, actor_id=ctx.person_id, now=ctx.now, tz=tz)
        done_text = f"已把 {pick['receipt']} 并入 {target.receipt}"
    elif action == "escalate":
        reason, kind = str(data.get("reason") or ""), str(data.get("kind") or "")
        done = escalation.escalate(
            ctx.session,
            proposal=proposal,
            actor_id=ctx.person_id,
            kind=kind,
            reason=reason,
            now=ctx.now,
            tz=tz,
            limits=clocks.Limits.of(ctx.settings),
        )
        done_text = f"{pick['receipt']} 已报送「{proposal.room.name}」"
    elif action == "return":
        reason = str(data.get("reason") or "")
        done = escalation.send_back(
            ctx.session,
            proposal=proposal,
            actor_id=ctx.person_id,
            reason=reason,
            now=ctx.now,
            tz=tz,
            limits=clocks.Limits.of(ctx.settings),
        )
        done_text = f"{pick['receipt']} 已退回「{proposal.room.name}」"
    else:
        raise ReviewError("没有这个操作。")
    told = f"，已通知提议人和附议人共 {done.told} 人" if done.told else ""
    path = f"，并告知相关议事室召集人 {done.path} 人" if done.path else ""
    return f"{done_text}{told}{path}。"


def apply_review(ctx: Ctx, data: Data) -> list[str]:
    """The confirmed action: written with its history and notifications, then the fresh list."""
    try:
        note = _perform(ctx, data)
    except ReviewError as refused:
        note = f"{refused}没有做任何改动。"
    convened = review.convened_rooms(ctx.session, person_id=ctx.person_id)
    room = next((r for r in convened if r.id == data.get("room_id")), convened[0] if convened else None)
    if room is None:
        return [note]
    return _start(ctx, _listing(ctx, room, convened), note)


COMMANDS: list[Command] = [
    Command(
        "待审",
        ("待审核", "审核提议", "待审", "审核"),
        cmd_queue,
        "查看并处理本议事室的新提议",
        roles=CONVENORS,
    ),
    Command("受理", ("受理",), cmd_accept, "如「受理 1」", roles=CONVENORS),
    Command("合并", ("合并",), cmd_merge, "如「合并 1 到 2」", roles=CONVENORS),
    Command("不予采纳", ("不予采纳", "不采纳"), cmd_decline, "如「不予采纳 1 理由……」", roles=CONVENORS),
    Command("审定", ("审定",), cmd_approve, "如「审定 1 审定单位 XX镇党委 日期 今天」", roles=CONVENORS),
    Command(
        "报上级",
        ("报上级", "上报上级", "报送上级"),
        cmd_escalate,
        "如「报上级 1 社情民意信息 原因……」",
        roles=CONVENORS,
    ),
    # 退回 alone is 返回 inside a form (a typo of 回退); with the item after it, or as 退回下级, it is this.
    Command("退回", ("退回下级", "退回"), cmd_return, "把下级报送的提议退回，如「退回 1 原因……」", roles=CONVENORS),
]

EFFECTS = {"review_apply": apply_review}
