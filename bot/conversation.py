"""One open question per person, and the drafts they left: stored, so any worker continues it.

A person's row in `dialog_states` holds what the bot is waiting for from them — a form being
filled in (提议题), a free-text offer, a numbered list just shown — as a dialog at a step, open until
`expires_at`. A form the person leaves (a command word) or lets expire is moved to `drafts` (the
newest first, at most MAX_DRAFTS) and comes back with 继续. The row is never deleted: finishing a
dialog closes it, and an effect that starts the next dialog opens it again in the same transaction.

The store is handed the effects it runs; it knows no handler. Handlers reach it as `ctx.dialogs`.
Sensitive answers (a phone number) are sealed before they are stored.

The row is read with the person (`people.arrive`, plain values), changed here in memory, and written
once when the message is done (`flush`): one UPDATE (or the first INSERT) per message, however many
things the message did to it (a draft kept, another dialog opened).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Insert, Table, Update, bindparam, insert, update

from bot.context import DbLookups
from bot.dialogs import DIALOGS
from bot.dialogs.engine import Data, Dialog, Turn, advance, begin, resume
from bot.services.people import STATE_COLUMNS
from storage.models import DialogState

if TYPE_CHECKING:
    from bot.context import Ctx

Effect = Callable[["Ctx", Data], list[str]]

SEALED_KEYS = ("phone",)
MAX_DRAFTS = 3
ACTIVE, CLOSED = "active", "closed"


@dataclass(frozen=True)
class Open:
    """The open question: which dialog, at which step, with what so far."""

    dialog: Dialog
    state: str
    data: Data
    stack: list[str]
    expired: bool
    since: datetime  # when it was last asked

    @property
    def step_commands(self) -> frozenset[str]:
        return self.dialog.steps[self.state].commands

    @property
    def insists(self) -> bool:
        """A form's step answers what it cannot read with what it needs; a question lets it pass on."""
        return self.dialog.is_form and not self.dialog.steps[self.state].passes


@dataclass(frozen=True)
class Answer:
    """What the open question made of a message."""

    replies: list[str]
    read: bool  # False: it could not read the message (the replies say what it needs)


@dataclass
class Row:
    """A person's `dialog_states` row as this message sees it (`people.STATE_COLUMNS`)."""

    dialog: str
    state: str
    data: Data
    history: dict[str, Any]
    status: str
    updated_at: datetime
    expires_at: datetime | None
    drafts: list[dict[str, Any]]


class Conversation:
    """The store for one person within one message's transaction."""

    def __init__(self, ctx: Ctx, effects: Mapping[str, Effect], stored: Mapping[str, Any] | None) -> None:
        self.ctx = ctx
        self.effects = effects
        self.lookups = DbLookups(ctx.work, ctx.photo_links)
        self.kept: list[str] = []  # what to say of forms `start` put away as drafts (the dispatcher says it)
        self.row: Row | None = Row(**stored) if stored is not None else None
        self._new = False  # the row is not in the database yet
        self._changed: set[str] = set()

    # --- reading ---------------------------------------------------------------------------------

    def current(self) -> Open | None:
        row = self.row
        if row is None or row.status != ACTIVE or row.dialog not in DIALOGS:
            return None
        dialog = DIALOGS[row.dialog]
        if row.state not in dialog.steps:  # a step renamed by a release: nothing to answer any more
            return None
        expires = row.expires_at or row.updated_at + self._timeout(dialog)
        stack = list(row.history.get("stack", []))
        return Open(dialog, row.state, dict(row.data), stack, self.ctx.now >= expires, row.updated_at)

    def form_open(self) -> bool:
        """A form is open and not past its expiry (a question pushed meanwhile must leave it be)."""
        now = self.current()
        return now is not None and now.dialog.is_form and not now.expired

    def drafts(self) -> list[dict[str, Any]]:
        row = self.row
        return [d for d in (row.drafts if row is not None else []) if d.get("dialog") in DIALOGS]

    def shown(self, name: str) -> Data | None:
        """The data of dialog `name`, open or kept as a draft (the review list a convenor last saw)."""
        now = self.current()
        if now is not None and now.dialog.name == name:
            return now.data
        return next((dict(d["data"]) for d in self.drafts() if d["dialog"] == name), None)

    # --- asking and answering --------------------------------------------------------------------

    def start(self, name: str, data: Data | None = None, note: str = "", heard: str = "") -> list[str]:
        """Open dialog `name` with what is already known; an open form worth keeping becomes a draft.
        `heard`: recognised speech that opened it, read back before its first step takes it."""
        now = self.current()
        if now is not None and now.dialog.name != name:
            kept = self.keep_draft(now)
            if kept:
                self.kept.append(kept)
        turn = begin(DIALOGS[name], data or {}, self.lookups, note, heard)
        return self._apply(name, turn)

    def answer(self, open_: Open) -> Answer:
        """Feed the message to the open question."""
        turn = advance(open_.dialog, open_.state, open_.data, open_.stack, self.ctx.msg, self.lookups)
        if not turn.read:
            return Answer(turn.replies, read=False)
        return Answer(self._apply(open_.dialog.name, turn), read=True)

    def reopen(self, open_: Open) -> Open:
        """An idle form taken up again: open for another DIALOG_TIMEOUT, at the same step."""
        self._set(updated_at=self.ctx.now, expires_at=self.ctx.now + self._timeout(open_.dialog))
        return replace(open_, expired=False, since=self.ctx.now)

    def close(self) -> None:
        if self.row is not None and self.row.status != CLOSED:
            self._set(status=CLOSED, updated_at=self.ctx.now)

    def keep_draft(self, open_: Open) -> str:
        """Move the open dialog to the drafts (if anything was typed in it); the sentence saying so, or ''."""
        dialog = open_.dialog
        if not dialog.is_form or not _worth_keeping(dialog, open_.data, open_.stack):
            self.close()
            return ""
        kept = {
            "dialog": dialog.name,
            "state": open_.state,
            "data": self._seal(open_.data),
            "stack": open_.stack,
            "saved_at": self.ctx.now.isoformat(),
        }
        drafts = [kept, *self.drafts()]
        dropped = drafts[MAX_DRAFTS:]
        self._set(drafts=drafts[:MAX_DRAFTS], status=CLOSED, updated_at=self.ctx.now)
        gone = "".join(f"（更早的草稿「{DIALOGS[d['dialog']].title}」已放弃。）" for d in dropped)
        return f"（刚才填写的「{dialog.title}」已保存为草稿，回复「继续」可接着填写。）{gone}"

    def resume_latest(self) -> list[str] | None:
        """Reopen the newest draft at the step it was left (or re-ask the open form's step); None when neither."""
        drafts = self.drafts()
        if self.row is None:
            return None
        if not drafts:
            # 继续 with a form open and nothing kept: the person lost their place, so ask the step again.
            now = self.current()
            if now is None or now.expired or not now.dialog.is_form:
                return None
            lead = f"您正在填写「{now.dialog.title}」，接着回答这一步。"
            turn = resume(now.dialog, now.state, now.data, now.stack, self.lookups, lead)
            return self._apply(now.dialog.name, turn)
        draft = drafts[0]
        self._set(drafts=drafts[1:])
        now = self.current()
        if now is not None:
            self.keep_draft(now)
        dialog = DIALOGS[draft["dialog"]]
        state = draft["state"] if draft["state"] in dialog.steps else dialog.first
        lead = f"好的，接着填写「{dialog.title}」。"
        turn = resume(dialog, state, dict(draft["data"]), list(draft["stack"]), self.lookups, lead)
        replies = self._apply(dialog.name, turn)
        left = len(self.drafts())
        if left and replies:
            replies[-1] += f"\n（还有 {left} 份草稿，填完这份后再发「继续」。）"
        return replies

    # --- storing ---------------------------------------------------------------------------------

    def _timeout(self, dialog: Dialog) -> timedelta:
        return dialog.timeout or self.ctx.settings.dialog_timeout

    def _apply(self, name: str, turn: Turn) -> list[str]:
        if turn.state is None:
            self.close()
            if turn.effect is None:
                return turn.replies
            return [*turn.replies, *self.effects[turn.effect](self.ctx, self._seal(turn.data))]
        dialog = DIALOGS[name]
        values: dict[str, Any] = {
            "dialog": name,
            "state": turn.state,
            "data": self._seal(turn.data),
            "history": {"stack": turn.stack},
            "status": ACTIVE,
            "updated_at": self.ctx.now,
            "expires_at": self.ctx.now + self._timeout(dialog),
        }
        if self.row is None:
            self.row = Row(drafts=[], **values)
            self._new = True
        else:
            self._set(**values)
        return turn.replies

    def _set(self, **values: Any) -> None:
        row = self.row
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)
        self._changed.update(values)

    def take_write(self) -> StateWrite | None:
        """What this message changed, as the statement to write it with (the first INSERT, or one UPDATE
        of the changed columns), or None; the caller runs it (the pipeline, with its claim)."""
        row = self.row
        if row is None or not (self._new or self._changed):
            return None
        if self._new:
            values = {name: getattr(row, name) for name in STATE_COLUMNS}
            write = StateWrite(_INSERT, {"person_id": self.ctx.person_id, **values})
        else:
            keys = tuple(sorted(self._changed))
            values = {key: getattr(row, key) for key in keys}
            write = StateWrite(_update_of(keys), {"row_person_id": self.ctx.person_id, **values})
        self._new = False
        self._changed.clear()
        return write

    def _seal(self, data: Data) -> Data:
        sealer = self.ctx.services.sealer
        return {
            key: sealer.seal(value)
            if key in SEALED_KEYS and isinstance(value, str) and not value.startswith(sealer.PREFIX)
            else value
            for key, value in data.items()
        }


@dataclass(frozen=True)
class StateWrite:
    """The write of a person's dialog state: an INSERT of their first row, or an UPDATE (`row_person_id`
    and the changed columns as parameters, none named like another table's column)."""

    statement: Insert | Update
    params: dict[str, Any]


_TABLE = cast(Table, DialogState.__table__)
_INSERT = insert(_TABLE)


@functools.cache
def _update_of(keys: tuple[str, ...]) -> Update:
    """The Core UPDATE writing `keys` of one person's row, built once per set of keys: building and
    caching an ORM-enabled UPDATE per message cost more than running it."""
    return (
        update(_TABLE)
        .where(_TABLE.c.person_id == bindparam("row_person_id"))
        .values({key: bindparam(key, type_=_TABLE.c[key].type) for key in keys})
    )


def _worth_keeping(dialog: Dialog, data: Data, stack: list[str]) -> bool:
    """A draft is kept once something was typed into the form (a step answered, or a text it began with)."""
    return bool(stack) or any(data.get(key) for key in dialog.draft_keys)
