"""Where a message goes, in one explicit order: events, the active dialog, a kept draft, a receipt
number, a command (role-checked here, once), and last the free-text fallback that offers to file it.
"""

from __future__ import annotations

import logging

from bot import conversation
from bot.context import Ctx
from bot.dialogs import DIALOGS
from bot.handlers import followup, rating, resident
from bot.handlers.registry import Command, by_menu_key, match
from bot.handlers.table import COMMANDS, ROLE_NAMES
from bot.incoming import Incoming
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
NOT_FOR_YOU = "「{name}」是议事室{roles}使用的功能，您目前没有这个身份。如需开通，请向议事室召集人索取邀请码。"
GREETINGS = frozenset({"你好", "您好", "在吗", "hi", "hello", "嗨", "哈喽", "谢谢", "好的", "收到", "嗯"})
COMMAND_SEPARATORS = frozenset(" :：，,　")
MIN_OFFER_CHARS = 4
MAX_OFFER_CHARS = 1000


def dispatch(ctx: Ctx) -> list[str]:
    """Everything a person can send ends here, with an answer."""
    msg = ctx.msg
    if msg.kind == "event":
        return _on_event(ctx)
    notes: list[str] = []
    state = conversation.current(ctx)
    if state is not None and state.status == "active":
        if conversation.is_expired(ctx, state):
            conversation.keep_as_draft(state)
            notes.append(_draft_notice(ctx, state.dialog))
            if msg.kind == "text" and control_word(msg.text) == "resume":
                return conversation.resume_draft(ctx, state)
        elif (command := _exact_command(msg)) is not None:
            # A menu tap or a bare command word mid-dialog: keep the dialog as a draft and do it.
            conversation.keep_as_draft(state)
            notes.append(f"（刚才填写的「{DIALOGS[state.dialog].title}」已保存为草稿，回复「继续」可接着填写。）")
            return _run(ctx, command, "") + notes
        else:
            result = conversation.proceed(ctx, state)
            if result is not conversation.REDISPATCH:
                assert isinstance(result, list)
                return result
    return notes + _outside_dialog(ctx)


# Bare command words that leave a dialog (kept as a draft) rather than answer it: no step expects them.
INTERRUPTING = frozenset({"提议题", "微建言", "我的", "待审", "新建协商", "广播", "清单", "发布反馈"})


def _exact_command(msg: Incoming) -> Command | None:
    if msg.kind != "text":
        return None
    word = normalize(msg.text)
    return next((c for c in COMMANDS if c.name in INTERRUPTING and word in c.words[:1]), None)


def _outside_dialog(ctx: Ctx) -> list[str]:
    msg = ctx.msg
    if msg.kind != "text":
        if msg.kind in {"image", "location"}:
            return ["收到。如果想反映问题，请发「提议题」，按提示一步步填写，照片和位置都可以附上。"]
        return [UNSUPPORTED]
    text = msg.text.strip()
    if not text:
        return [UNSUPPORTED]
    # 满意/基本满意/不满意 are ratings only for someone with an unrated result; else normal handling.
    rated = rating.try_rate(ctx, text)
    if rated is not None:
        return rated
    answered = followup.try_answer(ctx, text)
    if answered is not None:
        return answered
    matched = match(COMMANDS, text)
    if matched is not None:
        command, rest = matched
        # 「现场很多垃圾」 or a typo near a convenor's word, from someone without the role, is ordinary
        # text (offered to be filed); the command word alone or set apart (「受理 1」) earns the refusal.
        if _may_run(ctx, command):
            return command.handler(ctx, rest)
        if _addressed(command, text):
            return [_refusal(command)]
    shown = resident.show_receipt(ctx, text) if len(normalize(text)) <= 20 else None
    if shown is not None:
        return shown
    word = normalize(text)
    if word in GREETINGS or len(word) < MIN_OFFER_CHARS:
        return [WELCOME]
    if len(text) > MAX_OFFER_CHARS:
        return [f"内容有 {len(text)} 个字，超过了 {MAX_OFFER_CHARS} 字。请精简后再发，或分几条发。"]
    return conversation.start(ctx, "offer", {"text": text})


def _addressed(command: Command, text: str) -> bool:
    """The message is the command word, or the word followed by a space or colon and its arguments."""
    stripped = text.strip()
    if normalize(stripped) in command.words:
        return True
    return any(stripped.startswith(w) and stripped[len(w) : len(w) + 1] in COMMAND_SEPARATORS for w in command.words)


def _may_run(ctx: Ctx, command: Command) -> bool:
    if command.roles is None:
        return True
    roles = {role.role for role in people.roles_of(ctx.session, person_id=ctx.person.id)}
    return bool(roles & command.roles)


def _run(ctx: Ctx, command: Command, rest: str) -> list[str]:
    return command.handler(ctx, rest) if _may_run(ctx, command) else [_refusal(command)]


def _refusal(command: Command) -> str:
    names = "、".join(ROLE_NAMES.get(r, r) for r in sorted(command.roles or ()))
    return NOT_FOR_YOU.format(name=command.name, roles=names)


def _on_event(ctx: Ctx) -> list[str]:
    msg = ctx.msg
    if msg.event in {"subscribe", "enter_agent"}:
        return [WELCOME]
    if msg.event == "click":
        command = by_menu_key(COMMANDS, msg.event_key)
        if command is not None:
            return _run(ctx, command, "")
        log.info("unknown menu key %r", msg.event_key[:40])
        return [UNSUPPORTED]
    # unsubscribe, view, location reports, template job reports: nothing to say.
    return []


def _draft_notice(ctx: Ctx, dialog: str) -> str:
    minutes = int(ctx.settings.dialog_timeout.total_seconds() // 60)
    return f"您上次填写的「{DIALOGS[dialog].title}」超过 {minutes} 分钟没有继续，已保存为草稿。回复「继续」可接着填写。"
