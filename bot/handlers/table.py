"""The command table: every command, in the order messages are matched against them.

Each handlers module lists its own commands; this is the one place that puts them together.
Roles are checked by the dispatcher from `Command.roles`, never inside a handler.
"""

from __future__ import annotations

from bot.context import Ctx
from bot.handlers import binding, broadcast, followup, lists, live, resident, review, sessions
from bot.handlers.registry import Command
from bot.services import people

ROLE_NAMES = {"member": "委员", "representative": "群众代表", "convenor": "召集人"}
MEMBERS = frozenset({"member", "representative"})
CONVENORS = frozenset({"convenor"})
# 帮助 groups commands by who uses them; a section is shown only to people with one of its roles.
SECTIONS: tuple[tuple[str, frozenset[str] | None], ...] = (
    ("居民", None),
    ("委员/代表", MEMBERS),
    ("召集人", CONVENORS),
)


def _is_for(command: Command, who: frozenset[str] | None) -> bool:
    audience = command.listed_for or command.roles
    return audience is None if who is None else bool(audience and audience & who)


def cmd_help(ctx: Ctx, _rest: str) -> list[str]:
    """帮助：看看现在能做什么。"""
    roles = {role.role for role in people.roles_of(ctx.session, person_id=ctx.person.id)}
    listed: set[str] = set()
    sections = []
    for title, who in SECTIONS:
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


COMMANDS: list[Command] = [
    *resident.COMMANDS,
    *review.COMMANDS,
    *binding.COMMANDS,
    *broadcast.COMMANDS,
    *sessions.COMMANDS,
    *lists.COMMANDS,
    *followup.COMMANDS,
    *live.COMMANDS,
    Command("帮助", ("帮助", "help", "菜单", "功能", "怎么用", "?"), cmd_help, "查看全部功能"),
]
