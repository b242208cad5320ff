"""The office's web admin at /admin (filled in by the admin work of issue 4)."""

from __future__ import annotations

from fastapi import FastAPI

from bot.runtime import Runtime


def mount(app: FastAPI, runtime: Runtime) -> None:
    """Attach the admin to the app."""
