"""Placeholder: background services start here."""

from __future__ import annotations

from bot.runtime import Runtime


class BackgroundServices:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None
