"""Follow-up after results: was it solved (30 days on), 回头看, progress, 督办."""

from __future__ import annotations

from bot.context import Ctx
from bot.handlers.registry import Command


def try_answer(ctx: Ctx, text: str) -> list[str] | None:
    """An answer to the 'was it solved?' question from someone who was asked; None (fall through) otherwise."""
    return None


COMMANDS: list[Command] = []
