"""Follow-up dialogs (the reason for 没解决, the convenor's 回头看 answer)."""

from __future__ import annotations

from bot.dialogs.engine import Dialog

DIALOGS: tuple[Dialog, ...] = ()
