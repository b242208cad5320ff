"""清单 and 发布反馈 for convenors: record a session's three lists, publish its results.

The effects of the two dialogs live here too; they write in the message's transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.clock import fmt_local, local
from bot.context import Ctx
from bot.dialogs.engine import Data
from bot.dialogs.lists import KIND_ALIASES
from bot.handlers.registry import Command
from bot.roles import CONVENORS
from bot.services import lists, sessions
from bot.services.list_parse import KINDS
from bot.services.lists import KIND_NAMES
from bot.text import choose, shorten
from storage.models import ConsultSession

SESSION_NUMBER = re.compile(r"(?:第|会议)?\s*(\d{1,9})\s*(?:号|场)?")
NO_SESSIONS = "您议事室还没有已开始或已举行的协商活动。活动开始后，可发「清单」录入三份清单。"


def _label(ctx: Ctx, consult: ConsultSession) -> str:
    return f"{fmt_local(consult.starts_at, ctx.settings.timezone)} {shorten(consult.title, 20)}（会议 {consult.id}）"


def _pick(ctx: Ctx, data: Data, choices: list[ConsultSession], rest: str) -> str:
    """Preset the session when there is one, or when `rest` names one by its number; returns the rest."""
    match = SESSION_NUMBER.match(rest)
    if match is not None:
        wanted = int(match.group(1))
        found = next((c for c in choices if c.id == wanted), None)
        if found is not None:
            data.update(session_id=found.id, session_label=_label(ctx, found))
            return rest[match.end() :].strip()
    if len(choices) == 1:
        data.update(session_id=choices[0].id, session_label=_label(ctx, choices[0]))
    return rest


def cmd_lists(ctx: Ctx, rest: str) -> list[str]:
    """清单：录入协商建议清单、责任落实清单、结果反馈清单（一条消息可写多行，一行一条）。"""
    room_ids = [r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person_id)]
    choices = lists.sessions_for_lists(ctx.session, room_ids=room_ids, now=ctx.now)
    if not choices:
        return [NO_SESSIONS]
    data: Data = {
        "today": local(ctx.now, ctx.settings.timezone).date().isoformat(),
        "sessions": [[c.id, _label(ctx, c)] for c in choices],
        "topics": {
            str(c.id): [
                f"#{n} {p.receipt or ''} {shorten(p.description, 24)}"
                for n, p in enumerate(sessions.topics_of(ctx.session, session_id=c.id), 1)
            ]
            for c in choices
        },
        "counts": {str(c.id): lists.item_counts(ctx.session, session_id=c.id) for c in choices},
    }
    rest = _pick(ctx, data, choices, rest.strip())
    if rest:  # `清单 反馈`: the list came with the command
        index = choose(rest, [KIND_NAMES[k] for k in KINDS], aliases=KIND_ALIASES)
        if index is not None:
            data["kind"] = KINDS[index]
    return ctx.dialogs.start("lists", data)


def cmd_publish(ctx: Ctx, rest: str) -> list[str]:
    """发布反馈：把结果反馈清单推送给提议、附议和提微建言的群众，并请他们评价。"""
    room_ids = [r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person_id)]
    choices = lists.sessions_to_publish(ctx.session, room_ids=room_ids)
    if not choices:
        return ["没有待发布的结果反馈清单。请先发「清单」，选择「结果反馈清单」录入办理结果。"]
    data: Data = {"sessions": [[c.id, _label(ctx, c)] for c in choices]}
    _pick(ctx, data, choices, rest.strip())
    return ctx.dialogs.start("publish", data)


def _own(ctx: Ctx, data: Data) -> ConsultSession | None:
    """The dialog's session, if it is still in a room this person convenes (roles may change mid-dialog)."""
    consult = ctx.session.get(ConsultSession, int(data["session_id"]))
    rooms = {r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person_id)}
    return consult if consult is not None and consult.room_id in rooms else None


def store_list(ctx: Ctx, data: Data) -> list[str]:
    consult = _own(ctx, data)
    if consult is None:
        return ["这次协商活动已不在您召集的议事室里，清单没有记录。"]
    kind = str(data["kind"])
    today = local(ctx.now, ctx.settings.timezone).date()
    stored = lists.store_entry(
        ctx.session,
        consult=consult,
        kind=kind,
        text=str(data["text"]),
        today=today,
        replace=bool(data.get("replace")),
        now=ctx.now,
    )
    total = lists.item_counts(ctx.session, session_id=consult.id)[kind]
    head = f"已记录{KIND_NAMES[kind]} {stored} 条（这份清单现有 {total} 条）。"
    if kind == "feedback":
        return [f"{head}\n核对无误后发「发布反馈」，结果会推送给提议、附议和提微建言的群众，并请他们评价。"]
    return [f"{head}\n录入其他清单请再发「清单」。"]


def publish_feedback(ctx: Ctx, data: Data) -> list[str]:
    consult = _own(ctx, data)
    if consult is None:
        return ["这次协商活动已不在您召集的议事室里，没有发布。"]
    repeats = lists.plan_publish(ctx.session, session_id=consult.id).repeats
    items, people = lists.publish_feedback(ctx.session, session_id=consult.id, actor_id=ctx.person_id, now=ctx.now)
    if not items:
        return ["这次协商活动的结果反馈清单已经全部发布过了。"]
    if people:
        told = f"正在通知 {people} 位群众，并请他们评价。"
    elif repeats:
        told = "这些结果都已经通知过相关群众，没有重复通知。"
    else:
        told = "这些结果没有关联到群众，不需要通知。"
    return [f"已发布「{consult.title}」的结果反馈 {items} 条。{told}"]


COMMANDS: list[Command] = [
    Command(
        "清单", ("清单", "录清单", "录入清单", "三张清单", "三单"), cmd_lists, "录入会议的三份清单", roles=CONVENORS
    ),
    Command(
        "发布反馈",
        ("发布反馈", "发布结果", "发布反馈清单", "推送结果"),
        cmd_publish,
        "把结果反馈清单推送给相关群众",
        roles=CONVENORS,
    ),
]
EFFECTS: dict[str, Callable[[Ctx, Data], list[str]]] = {
    "store_list": store_list,
    "publish_feedback": publish_feedback,
}
