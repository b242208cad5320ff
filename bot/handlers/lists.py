"""The convenor's 清单 and 发布反馈 commands."""

from __future__ import annotations

from bot.handlers.registry import Command

COMMANDS: list[Command] = []
EFFECTS: dict = {}
