"""The command table: every command, in the order messages are matched against them.

Each handlers module lists its own commands; this is the one place that puts them together.
Roles are checked by the dispatcher from `Command.roles`, never inside a handler.
"""

from __future__ import annotations

from bot.context import Ctx
from bot.handlers import binding, broadcast, resident, review, sessions
from bot.handlers.registry import Command
from bot.services import people

ROLE_NAMES = {"member": "委员", "representative": "群众代表", "convenor": "召集人"}


def cmd_help(ctx: Ctx, _rest: str) -> list[str]:
    """帮助：看看现在能做什么。"""
    roles = {role.role for role in people.roles_of(ctx.session, person_id=ctx.person.id)}
    lines = ["您可以发送："]
    for command in COMMANDS:
        if command.roles is None or roles & command.roles:
            lines.append(f"· {command.name}：{command.summary}")
    lines.append("· 编号（如 YS-2026-000123）：查看那一条的详情")
    lines.append("填写过程中随时可发「返回」「取消」「帮助」。")
    return ["\n".join(lines)]


COMMANDS: list[Command] = [
    *resident.COMMANDS,
    *review.COMMANDS,
    *binding.COMMANDS,
    *broadcast.COMMANDS,
    *sessions.COMMANDS,
    Command("帮助", ("帮助", "help", "菜单", "功能", "怎么用", "?"), cmd_help, "查看全部功能"),
]
