"""The dialog engine: conversations declared as data, advanced by a pure runner.

A `Dialog` is a table of named `Step`s. A step is two small functions: `prompt` (what to ask) and
`handle` (read the answer, return an `Outcome`). Steps never write: the dispatcher stores the state
and performs the dialog's effect (file the proposal, ...) in the same transaction. Steps may read
through the `Lookups` they are given (find a room, similar proposals), which tests can fake.

The control words — 取消, 返回, 帮助, 跳过, 确认 — are handled here, once, for every dialog.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.incoming import Incoming
from bot.text import control_word

Data = dict[str, Any]


@dataclass(frozen=True)
class RoomRef:
    id: int
    name: str


@dataclass(frozen=True)
class SimilarRef:
    id: int
    receipt: str
    summary: str
    supporters: int


class Lookups(Protocol):
    """Read-only queries a step may make."""

    def rooms_matching(self, query: str) -> list[RoomRef]: ...

    def all_rooms(self, limit: int) -> list[RoomRef]: ...

    def similar_proposals(self, room_id: int, text: str) -> list[SimilarRef]: ...

    def session_invitees(self, room_id: int, scope: str, names: list[str]) -> Data: ...  # 新建协商's head count

    def proposal_item(self, receipt: str) -> Data | None: ...  # the review dialog's view of a proposal

    def broadcast_count(self, room_id: int, audience: str, ref: int | None, author_id: int) -> int: ...

    def broadcast_proposal(self, room_id: int, receipt: str) -> SimilarRef | None: ...

    def list_entry(self, session_id: int, kind: str, text: str, today: str) -> Data: ...  # 清单: preview, problems

    def publish_preview(self, session_id: int) -> Data: ...  # 发布反馈: the lines and how many people are told


@dataclass(frozen=True)
class Goto:
    state: str
    updates: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Retry:
    message: str


@dataclass(frozen=True)
class Finish:
    effect: str
    updates: Mapping[str, Any] = field(default_factory=dict)


Outcome = Goto | Retry | Finish
Prompt = Callable[[Data, Lookups], str]
Handler = Callable[[Data, Incoming, Lookups], Outcome]


@dataclass(frozen=True)
class Step:
    prompt: Prompt
    handle: Handler
    next: str  # where 跳过 leads, and where the runner goes when `applies` is false
    optional: bool = False
    applies: Callable[[Data, Lookups], bool] | None = None
    enter: Callable[[Data, Lookups], Mapping[str, Any]] | None = None  # data to look up on arrival
    help: str = ""


@dataclass(frozen=True)
class Dialog:
    name: str
    title: str  # what the user calls it: 提议题
    first: str
    steps: Mapping[str, Step]
    confirm: str  # the confirmation step; 确认 elsewhere jumps here once `required` is filled
    required: tuple[str, ...] = ()
    cancelled: str = ""  # said on 取消; the generic sentence when empty


@dataclass
class Turn:
    """What one message did to a dialog: where it stands now, and what to say."""

    state: str | None  # None: the dialog is over
    data: Data
    stack: list[str]
    replies: list[str]
    effect: str | None = None


CANCELLED = "已取消，填写的内容没有提交。"
CONTROL_HELP = "随时可回复：「返回」上一步 ·「取消」退出 ·「帮助」查看说明"


def begin(dialog: Dialog, data: Data, lookups: Lookups, note: str = "") -> Turn:
    """Start `dialog` with some data already known (a remembered room, a prefilled text)."""
    return _enter(dialog, dialog.first, dict(data), [], lookups, note)


def resume(dialog: Dialog, state: str, data: Data, stack: list[str], lookups: Lookups, note: str) -> Turn:
    """Re-ask the current step of a kept draft."""
    return Turn(state, data, stack, [_join(note, dialog.steps[state].prompt(data, lookups))])


def advance(dialog: Dialog, state: str, data: Data, stack: list[str], msg: Incoming, lookups: Lookups) -> Turn:
    """Feed one message to the dialog standing at `state`."""
    step = dialog.steps[state]
    word = control_word(msg.text) if msg.kind == "text" else None
    if word == "cancel":
        return Turn(None, data, stack, [dialog.cancelled or CANCELLED])
    if word == "back":
        if not stack:
            return Turn(state, data, stack, [_join("已经是第一步了。", step.prompt(data, lookups))])
        previous = stack[-1]
        return Turn(previous, data, stack[:-1], [dialog.steps[previous].prompt(data, lookups)])
    if word == "help":
        text = step.help or "请按提示回答。"
        return Turn(state, data, stack, [_join(f"【{dialog.title}】{text}", step.prompt(data, lookups), CONTROL_HELP)])
    if word == "skip" and step.optional:
        return _enter(dialog, step.next, data, [*stack, state], lookups)
    if word == "skip":
        return Turn(state, data, stack, [_join("这一步不能跳过。", step.prompt(data, lookups))])
    if word == "confirm" and state != dialog.confirm:
        missing = [key for key in dialog.required if not data.get(key)]
        if not missing:
            return _enter(dialog, dialog.confirm, data, [*stack, state], lookups)
        return Turn(state, data, stack, [_join("还没填完，先回答这一步。", step.prompt(data, lookups))])

    outcome = step.handle(data, msg, lookups)
    if isinstance(outcome, Retry):
        return Turn(state, data, stack, [outcome.message])
    merged = {**data, **outcome.updates}
    if isinstance(outcome, Finish):
        return Turn(None, merged, stack, [], effect=outcome.effect)
    return _enter(dialog, outcome.state, merged, [*stack, state], lookups, outcome.note)


def _enter(dialog: Dialog, state: str, data: Data, stack: list[str], lookups: Lookups, note: str = "") -> Turn:
    """Go to `state`, passing over steps that do not apply (no similar proposals, room known)."""
    seen: set[str] = set()
    while True:
        step = dialog.steps[state]
        if step.enter is not None:
            data = {**data, **step.enter(data, lookups)}
        if step.applies is None or step.applies(data, lookups):
            break
        if state in seen:  # a declaration error, caught by the dialog table test
            raise RuntimeError(f"dialog {dialog.name} loops at {state}")
        seen.add(state)
        state = step.next
    return Turn(state, data, stack, [_join(note, step.prompt(data, lookups))])


def _join(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)
