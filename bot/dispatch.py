"""Where a message goes: the one routing table. Routes are tried in order; the first that answers wins.

| # | route          | takes the message when                                                        |
|---|----------------|-------------------------------------------------------------------------------|
| 1 | event          | it is an event: a menu click runs its command, a follow gets the welcome, a    |
|   |                | 民生码 scan (subscribe/SCAN with a scene) opens its room or item;              |
|   |                | an unfollow or WeChat's report on a message sent is recorded, unanswered       |
| 2 | expired        | the open question is past its expiry: a form whose step reads it goes on (and  |
|   |                | says so); otherwise the form is kept as a draft, a question closed, and on     |
| 3 | control word   | 取消 返回 帮助 跳过 确认 while a form is open (a question takes only 取消)      |
| 4 | step command   | a command word the open step reads as its answer (the offer's 提议题)          |
| 5 | command        | a command word, role-checked here once: it always wins, an open form is kept   |
|   |                | as a draft                                                                    |
| 6 | open question  | the open step reads it                                                        |
| 7 | pending answer | it unmistakably answers a pushed question (满意, 没解决 原因) with items waiting |
| 8 | receipt        | it is a receipt number alone (YS-2026-000123)                                 |
| 9 | unread         | the open form could not read it: it says what it needs                        |
| 10| free text      | anything else: offered for filing (a photo joins the offer), or the welcome    |

Commands, the effects dialogs finish with, and which command words interrupt a form are declared here
together; handlers reach the conversation store through `ctx.dialogs`, never by import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NamedTuple

from bot.context import Ctx
from bot.conversation import Conversation, Effect, Open, StateWrite
from bot.dialogs import DIALOGS
from bot.dialogs.engine import VOICE, keep_media
from bot.dialogs.offer import MAX_CHARS as MAX_OFFER_CHARS
from bot.dialogs.offer import MIN_CHARS as MIN_OFFER_CHARS
from bot.handlers import (
    binding,
    broadcast,
    delivery_events,
    experts,
    followup,
    lists,
    live,
    moderation,
    notices,
    notifications,
    opinion,
    priority,
    qrcodes,
    rating,
    records,
    resident,
    review,
    sessions,
)
from bot.handlers.registry import Command, CommandTable, by_menu_key
from bot.roles import CONVENORS, INVITED, role_name
from bot.services import people
from bot.text import control_word, normalize

log = logging.getLogger(__name__)

WELCOME = (
    "欢迎来到「有事好商量」！身边有什么需要大家一起商量解决的事，都可以在这里说。\n"
    "· 发「提议题」：提出一个需要协商的问题\n"
    "· 发「微建言」：提一条简短的建议\n"
    "· 发「我的」：查看您提交的事项和进展\n"
    "· 发「帮助」：查看全部功能"
)
UNSUPPORTED = "抱歉，暂时还看不懂这类消息。请发文字，或发「帮助」看看能做什么。"
NOTHING_OPEN = "现在没有正在填写的内容。"
NOT_FOR_YOU = "「{name}」是议事室{roles}使用的功能，您目前没有这个身份。如需开通，请向议事室召集人索取邀请码。"
GREETINGS = frozenset({"你好", "您好", "在吗", "hi", "hello", "嗨", "哈喽", "谢谢", "好的", "收到", "嗯"})
COMMAND_SEPARATORS = frozenset(" :：，,")
RESUME_WITHIN = timedelta(days=1)  # an idle form this recent takes the next answer; older ones wait as drafts


# --- the tables ----------------------------------------------------------------------------------


def cmd_help(ctx: Ctx, _rest: str) -> list[str]:
    """帮助：看看现在能做什么。"""
    roles = {role.role for role in people.roles_of(ctx.session, person_id=ctx.person_id)}
    listed: set[str] = set()
    sections = []
    for title, who in HELP_SECTIONS:
        if who is not None and not roles & who:
            continue
        # Each command once, under the first section shown to this person that it is for.
        commands = [c for c in COMMANDS if c.name not in listed and _is_for(c, who)]
        listed.update(c.name for c in commands)
        lines = [f"【{title}】", *(f"· {c.name}：{c.summary}" for c in commands)]
        if who is None:
            lines.append("· 编号（如 YS-2026-000123）：查看详情")
        sections.append("\n".join(lines))
    ending = "填写过程中随时可发「返回」「取消」「帮助」。"
    return ["\n\n".join(["您可以发送：", *sections, ending])]


# In the order messages are matched against them (a longer word before its prefix: 广播记录, 广播).
COMMANDS: list[Command] = [
    *records.COMMANDS,  # before 我的: 我的履职 is not 我的 + 履职
    *resident.COMMANDS,
    *rating.COMMANDS,
    *review.COMMANDS,
    *binding.COMMANDS,
    *broadcast.COMMANDS,
    *sessions.COMMANDS,
    *lists.COMMANDS,
    *followup.COMMANDS,
    *live.COMMANDS,
    *moderation.COMMANDS,
    *notices.COMMANDS,
    *notifications.COMMANDS,
    *experts.COMMANDS,
    *opinion.COMMANDS,
    *priority.COMMANDS,
    Command("帮助", ("帮助", "help", "菜单", "功能", "怎么用", "?"), cmd_help, "查看全部功能"),
]
TABLE = CommandTable(COMMANDS)
# 帮助 groups commands by who uses them; a section is shown only to people with one of its roles.
HELP_SECTIONS: tuple[tuple[str, frozenset[str] | None], ...] = (
    ("居民", None),
    ("委员/代表", INVITED),
    ("召集人", CONVENORS),
)
# What each dialog may finish with (a test holds every dialog's declared effects to this table).
EFFECTS: dict[str, Effect] = {
    **resident.EFFECTS,
    **rating.EFFECTS,
    **binding.EFFECTS,
    "send_broadcast": broadcast.send_broadcast,
    **review.EFFECTS,
    **sessions.EFFECTS,
    **lists.EFFECTS,
    **followup.EFFECTS,
    **live.EFFECTS,
    **experts.EFFECTS,
    **opinion.EFFECTS,
    **priority.EFFECTS,
}


def _is_for(command: Command, who: frozenset[str] | None) -> bool:
    audience = command.listed_for or command.roles
    return audience is None if who is None else bool(audience and audience & who)


# --- one message ---------------------------------------------------------------------------------


@dataclass
class At:
    """Where routing stands for one message."""

    ctx: Ctx
    talk: Conversation
    open: Open | None
    command: tuple[Command, str] | None  # the command word the message is addressed with, and the rest
    addressed: bool  # the command word alone or set apart (受理 1), not just the start of a sentence
    notes: list[str] = field(default_factory=list)  # said before the answer (a draft kept)
    unread: list[str] | None = None  # what the open form needs, when its step could not read the message


Route = Callable[[At], list[str] | None]


class Answered(NamedTuple):
    replies: list[str]
    state: StateWrite | None  # the dialog state as the message left it, for the caller to write (once)


def dispatch(ctx: Ctx, stored: Mapping[str, Any] | None) -> Answered:
    """Everything a person can send ends here, with an answer (events may get none).

    `stored`: the person's dialog-state row as read with them (`people.arrive`); what the message
    changed in it comes back as one statement for the caller, which writes it with the claim."""
    talk = Conversation(ctx, EFFECTS, stored)
    ctx.dialogs = talk
    matched = TABLE.match(ctx.msg.text) if ctx.msg.kind == "text" else None
    at = At(ctx, talk, talk.current(), matched, matched is not None and _addressed(matched[0], ctx.msg.text))
    for _name, route in ROUTES:
        replies = route(at)
        if replies is not None:
            return Answered(_with_notes(at.notes, [*replies, *talk.kept]), talk.take_write())
    raise AssertionError("the free-text route answers everything")


def _with_notes(notes: list[str], replies: list[str]) -> list[str]:
    if not notes:
        return replies
    return [*notes, *replies] if replies else notes


def on_event(at: At) -> list[str] | None:
    msg = at.ctx.msg
    if msg.kind != "event":
        return None
    if msg.event in delivery_events.FOLLOWS:
        delivery_events.on_follow(at.ctx)
    found = qrcodes.scanned(at.ctx)  # a 民生码 scanned (subscribe with a scene, or SCAN): counted here
    if found is not None:
        _put_away(at)
        return [*qrcodes.on_scan(at.ctx, found), *at.notes]
    if msg.event in {"subscribe", "subscribe_scan", "enter_agent"}:
        return [WELCOME + _draft_hint(at)]
    if msg.event == "click":
        command = by_menu_key(COMMANDS, msg.event_key)
        if command is not None:
            return _run(at, command, "")
        log.info("unknown menu key %r", msg.event_key[:40])
        return [UNSUPPORTED]
    reported = delivery_events.EVENTS.get(msg.event)
    if reported is not None:  # unfollowing, reports on what we sent: recorded, never answered
        return reported(at.ctx)
    # view, location reports and the like: nothing to say.
    return []


def expired(at: At) -> list[str] | None:
    """An open question past its expiry. A form left less than RESUME_WITHIN ago is open again: the message
    answers it (said so in a lead line). Anything older, or a question, is put away and routing goes on."""
    now = at.open
    if now is None or not now.expired:
        return None
    idle = at.ctx.now - now.since
    commanded = at.command is not None and at.addressed and at.command[0].name not in now.step_commands
    if now.insists and not commanded and idle < RESUME_WITHIN:
        at.open = at.talk.reopen(now)
        if control_word(at.ctx.msg.text) != "cancel":
            at.notes.append(f"（接着您 {_ago(idle)}没填完的「{now.dialog.title}」。）")
        return None
    note = at.talk.keep_draft(now)
    resumed = commanded and at.command is not None and at.command[0].handler is resident.cmd_resume
    if note and not resumed:  # 继续 takes it up again at once: no draft to announce
        at.notes.append(
            f"（您 {_ago(idle)}填写的「{now.dialog.title}」没有填完，已保存为草稿，回复「继续」可接着填写。）"
        )
    at.open = None
    return None


def control(at: At) -> list[str] | None:
    """取消 返回 帮助 跳过 确认 belong to what is open; with nothing open, say so (继续 is a command)."""
    msg = at.ctx.msg
    word = control_word(msg.text) if msg.kind == "text" else None
    if word is None or word == "resume":
        return None
    if at.open is not None:
        if word != "cancel" and not at.open.dialog.is_form:
            return None  # a question reads its own yes and no (好, 不用了) in route 6; 帮助 is the command
        return at.talk.answer(at.open).replies
    if word == "skip":
        voted = opinion.try_pending(at.ctx)  # 跳过 a statement pushed to this person: a vote, not a control
        if voted is not None:
            return voted
    if word in {"cancel", "back", "skip", "confirm"}:
        return [NOTHING_OPEN + _draft_hint(at, default="需要时发「提议题」或「微建言」。")]
    return None


def step_command(at: At) -> list[str] | None:
    if at.open is None or at.command is None or at.command[0].name not in at.open.step_commands:
        return None
    answered = at.talk.answer(at.open)
    return answered.replies if answered.read else None


def command(at: At) -> list[str] | None:
    if at.command is None:
        return None
    found, rest = at.command
    if not at.addressed and (not found.inline or (at.open is not None and at.open.insists)):
        return None  # 「我的小区门口…」, 「现场很多垃圾」: a sentence that merely starts with a command word
    if not _may_run(at.ctx, found):
        return [_refusal(found)]
    if at.open is not None and at.open.insists:
        free = at.open.dialog.steps[at.open.state].free_text
        if free and normalize(at.ctx.msg.text) not in found.words:
            return None  # mid-form, an answer in one's own words may start with a command word and more
    return _run(at, found, rest)


def question(at: At) -> list[str] | None:
    if at.open is None:
        return None
    answered = at.talk.answer(at.open)
    if answered.read:
        return answered.replies
    if at.open.insists:
        at.unread = answered.replies
    elif not at.open.dialog.is_form:
        # A question the message does not answer is over: what answers the message instead (the
        # welcome, a receipt, 听不懂语音) is the last thing said, and a digit later picks nothing from it.
        at.talk.close()
        at.open = None
    return None


def pending(at: At) -> list[str] | None:
    """满意 / 没解决 原因 for results and follow-ups waiting for this person (asked by a push)."""
    if at.ctx.msg.kind != "text":
        return None
    answered = (
        rating.try_pending(at.ctx)
        or followup.try_pending(at.ctx)
        or opinion.try_pending(at.ctx)
        or priority.try_pending(at.ctx)
    )
    if answered is None:
        return None
    unread = at.unread if at.unread and _still_open(at) else []
    return [*answered, *unread]


def receipt(at: At) -> list[str] | None:
    text = at.ctx.msg.text if at.ctx.msg.kind == "text" else ""
    shown = resident.show_receipt(at.ctx, text) if text and len(normalize(text)) <= 20 else None
    if shown is None:
        return None
    return [*shown, *(at.unread or [])]


def unread(at: At) -> list[str] | None:
    return at.unread


def free_text(at: At) -> list[str]:
    msg = at.ctx.msg
    if msg.kind in {"image", "location"}:
        data, _note = keep_media(resident.remembered_room(at.ctx), msg)
        return at.talk.start("offer", data)
    if msg.kind == "voice":
        return [VOICE]
    if msg.kind != "text":
        return [UNSUPPORTED]
    text = msg.text.strip()
    word = normalize(text)
    if word in GREETINGS or len(word) < MIN_OFFER_CHARS:
        return [WELCOME + _draft_hint(at)]
    if len(text) > MAX_OFFER_CHARS:
        return [f"内容有 {len(text)} 个字，超过了 {MAX_OFFER_CHARS} 字。请精简后再发，或分几条发。"]
    if msg.recognised:  # heard, not typed: read back before it is offered for filing
        return at.talk.start("offer", resident.remembered_room(at.ctx), heard=text)
    return at.talk.start("offer", {**resident.remembered_room(at.ctx), "texts": [text]})


ROUTES: tuple[tuple[str, Route], ...] = (
    ("event", on_event),
    ("expired", expired),
    ("control word", control),
    ("step command", step_command),
    ("command", command),
    ("open question", question),
    ("pending answer", pending),
    ("receipt", receipt),
    ("unread", unread),
    ("free text", free_text),
)


# --- helpers -------------------------------------------------------------------------------------


def _run(at: At, found: Command, rest: str) -> list[str]:
    """Run a command: the open form is kept as a draft (and the reply says so), a question closed.
    继续 keeps an open form itself when it resumes another, and leaves it open when there is none."""
    if not _may_run(at.ctx, found):
        return [_refusal(found)]
    if at.open is not None and (found.handler is not resident.cmd_resume or not at.open.dialog.is_form):
        _put_away(at)
    replies = found.handler(at.ctx, rest)
    # The draft note goes after the command's own answer: what they asked for comes first.
    notes, at.notes = at.notes, []
    return [*replies, *notes]


def _put_away(at: At) -> None:
    """Something new starts: the open form is kept as a draft (a note says so), a question closed."""
    if at.open is None:
        return
    note = at.talk.keep_draft(at.open)
    if note:
        at.notes.append(note)
    at.open = None


def _addressed(command: Command, text: str) -> bool:
    """The message is the command word (or a one-typo form of it), or the word followed by a space or colon."""
    stripped = text.strip()
    word = normalize(stripped)
    if word in command.words or (len(word) <= 5 and not any(stripped.startswith(w) for w in command.words)):
        return True
    return any(stripped.startswith(w) and stripped[len(w) : len(w) + 1] in COMMAND_SEPARATORS for w in command.words)


def _still_open(at: At) -> bool:
    """The form that could not read the message is still open: a pending answer may have put it away
    to ask which item (its own question is then not asked alongside; a kept draft says so)."""
    now = at.talk.current()
    return at.open is not None and now is not None and now.dialog.name == at.open.dialog.name


def _may_run(ctx: Ctx, found: Command) -> bool:
    if found.roles is None:
        return True
    roles = {role.role for role in people.roles_of(ctx.session, person_id=ctx.person_id)}
    return bool(roles & found.roles)


def _refusal(found: Command) -> str:
    names = "、".join(role_name(r) for r in sorted(found.roles or ()))
    return NOT_FOR_YOU.format(name=found.name, roles=names)


def _draft_hint(at: At, default: str = "") -> str:
    drafts = at.talk.drafts()
    if not drafts:
        return f"\n{default}" if default else ""
    return f"\n（您有未填完的「{DIALOGS[drafts[0]['dialog']].title}」，回复「继续」可接着填写。）"


def _ago(idle: timedelta) -> str:
    minutes = int(idle.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} 分钟前"
    if minutes < 48 * 60:
        return f"{minutes // 60} 小时前"
    return f"{minutes // (24 * 60)} 天前"
