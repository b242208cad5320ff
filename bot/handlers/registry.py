"""The command table: words that start something, who may use them, and the handler."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.context import Ctx
from bot.text import close_to, normalize

Handler = Callable[[Ctx, str], list[str]]


@dataclass(frozen=True)
class Command:
    name: str  # the word shown in 帮助
    words: tuple[str, ...]  # what people type for it (normalised forms)
    handler: Handler  # gets the context and whatever followed the command word
    summary: str  # one line for 帮助
    roles: frozenset[str] | None = None  # None: anyone; else one of these roles in some room
    listed_for: frozenset[str] | None = None  # whom 帮助 lists it for, when not `roles` (参加: invitees)
    menu_key: str | None = None  # the custom-menu CLICK key that runs it
    # The word may run straight into its argument (微建言路灯坏了, 绑定AB12CD34); other commands need
    # the word alone or set apart (我的 is not 「我的小区门口…」).
    inline: bool = False


class CommandTable:
    """The commands in the order they are tried, indexed once: matching runs on every text message."""

    def __init__(self, commands: Sequence[Command]) -> None:
        self.commands = tuple(commands)
        self._exact: dict[str, Command] = {}
        self._by_first: dict[str, list[tuple[str, Command]]] = {}
        for command in self.commands:
            for w in command.words:
                self._exact.setdefault(w, command)  # the first command listing a word wins
                if len(w) >= 2:
                    self._by_first.setdefault(w[0], []).append((w, command))
        self._typo_words = [(w, c) for c in self.commands for w in c.words if len(w) >= 3]

    def match(self, text: str) -> tuple[Command, str] | None:
        """The command the message starts with, and the rest of it (`微建言 路灯坏了` -> 微建言, `路灯坏了`).

        A message that is only a command word may carry one typo (`提意题`), if the word has three characters.
        """
        stripped = text.strip()
        word = normalize(stripped)
        if not word:
            return None
        exact = self._exact.get(word)
        if exact is not None:
            return exact, ""
        for w, command in self._by_first.get(stripped[0], ()):
            if stripped.startswith(w) and len(stripped) > len(w):
                return command, stripped[len(w) :].lstrip(" :：，,　")
        if 3 <= len(word) <= 5:
            # One typo only in words of three characters or more: 是的 is not 我的, 建议 not 提建议.
            close = {id(c): c for w, c in self._typo_words if close_to(word, w)}
            if len(close) == 1:
                return next(iter(close.values())), ""
        return None


def by_menu_key(commands: Sequence[Command], key: str) -> Command | None:
    return next((c for c in commands if c.menu_key == key), None)
