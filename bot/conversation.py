"""Dialog state in the database: start, continue, expire into a draft, resume, and run effects.

State is stored per person, so a restart or another worker continues where the last message left.
Sensitive answers (a phone number) are sealed before they are stored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, inspect, update
from sqlalchemy.orm.attributes import set_committed_value

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
    values = {
        "dialog": name,
        "state": turn.state,
        "data": _seal(ctx, turn.data),
        "history": {"stack": turn.stack},
        "status": "active",
        "updated_at": ctx.now,
    }
    if row is None:
        ctx.session.add(DialogState(person_id=ctx.person.id, **values))
    else:
        _update(ctx, row, values)
    return turn.replies


_STORED = ("dialog", "state", "data", "history", "status", "updated_at")
_UPDATE = (
    update(DialogState)
    .where(DialogState.person_id == bindparam("row_person_id"))
    .values({key: bindparam(key) for key in _STORED})
)


def _update(ctx: Ctx, row: DialogState, values: dict[str, Any]) -> None:
    """Store a step: one prepared UPDATE, the loaded row kept in step without the unit of work (this
    runs on nearly every message; a flush costs more than the statement). A row with other pending
    changes (kept as a draft just now) goes through the unit of work as usual."""
    if not inspect(row).persistent or inspect(row).modified:
        for key, value in values.items():
            setattr(row, key, value)
        return
    ctx.session.connection().execute(_UPDATE, {"row_person_id": row.person_id, **values})
    for key, value in values.items():
        set_committed_value(row, key, value)


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
