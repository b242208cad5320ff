"""Follow-up after results: was it solved (30 days on), 回头看, progress, 督办."""

from __future__ import annotations

from collections.abc import Callable

from bot.context import Ctx
from bot.dialogs.engine import Data
from bot.handlers.registry import Command


def try_answer(ctx: Ctx, text: str) -> list[str] | None:
    """An answer to the 'was it solved?' question from someone who was asked; None (fall through) otherwise."""
    return None


COMMANDS: list[Command] = []
# Effects of this module's dialogs (name -> function), merged into bot/handlers/effects.py EFFECTS.
EFFECTS: dict[str, Callable[[Ctx, Data], list[str]]] = {}
