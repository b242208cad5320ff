"""Dialog state in the database: start, continue, expire into a draft, resume, and run effects.

State is stored per person, so a restart or another worker continues where the last message left.
Sensitive answers (a phone number) are sealed before they are stored.
"""

from __future__ import annotations

from typing import Any

from bot.context import Ctx, DbLookups
from bot.dialogs import DIALOGS
from bot.dialogs.engine import Data, Turn, advance, begin, resume
from bot.handlers.effects import EFFECTS
from storage.models import DialogState

SEALED_KEYS = ("phone",)
REDISPATCH = object()  # a finished dialog asking the dispatcher to treat the message afresh


def current(ctx: Ctx) -> DialogState | None:
    return ctx.session.get(DialogState, ctx.person.id)


def is_expired(ctx: Ctx, state: DialogState) -> bool:
    return state.status == "active" and ctx.now - state.updated_at > ctx.settings.dialog_timeout


def start(ctx: Ctx, name: str, data: Data | None = None, note: str = "") -> list[str]:
    """Begin a dialog (replacing any draft), with what is already known."""
    dialog = DIALOGS[name]
    turn = begin(dialog, data or {}, DbLookups(ctx.session), note)
    return _apply(ctx, name, turn)


def proceed(ctx: Ctx, state: DialogState) -> list[str] | object:
    """Feed the message to the active dialog."""
    dialog = DIALOGS[state.dialog]
    turn = advance(
        dialog, state.state, dict(state.data), list(state.history.get("stack", [])), ctx.msg, DbLookups(ctx.session)
    )
    return _apply(ctx, state.dialog, turn)


def keep_as_draft(state: DialogState) -> None:
    state.status = "draft"


def resume_draft(ctx: Ctx, state: DialogState) -> list[str]:
    dialog = DIALOGS[state.dialog]
    state.status = "active"
    state.updated_at = ctx.now
    turn = resume(
        dialog,
        state.state,
        dict(state.data),
        list(state.history.get("stack", [])),
        DbLookups(ctx.session),
        f"好的，接着填写「{dialog.title}」。",
    )
    return turn.replies


def _apply(ctx: Ctx, name: str, turn: Turn) -> Any:
    row = current(ctx)
    if turn.state is None:
        if row is not None:
            ctx.session.delete(row)
        if turn.effect is None:
            return turn.replies
        return _run_effect(ctx, turn.effect, turn.data)
    data = _seal(ctx, turn.data)
    if row is None:
        row = DialogState(person_id=ctx.person.id)
        ctx.session.add(row)
    row.dialog = name
    row.state = turn.state
    row.data = data
    row.history = {"stack": turn.stack}
    row.status = "active"
    row.updated_at = ctx.now
    return turn.replies


def _run_effect(ctx: Ctx, effect: str, data: Data) -> Any:
    if effect == "redispatch":
        return REDISPATCH
    if effect.startswith("chain:"):
        target = effect.split(":", 1)[1]
        text = str(data.get("text", ""))
        prefill = {"text": text} if target == "suggest" else {"description": text}
        return start(ctx, target, {**_room_of(ctx), **prefill})
    return EFFECTS[effect](ctx, data)


def _room_of(ctx: Ctx) -> Data:
    room = ctx.person.last_room
    return {"room_id": room.id, "room_name": room.name} if room is not None else {}


def _seal(ctx: Ctx, data: Data) -> Data:
    sealer = ctx.services.sealer
    return {
        key: sealer.seal(value)
        if key in SEALED_KEYS and isinstance(value, str) and not value.startswith(sealer.PREFIX)
        else value
        for key, value in data.items()
    }
