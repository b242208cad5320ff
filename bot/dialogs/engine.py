"""The dialog engine: conversations declared as data, advanced by a pure runner.

A `Dialog` is a table of named `Step`s. A step is two small functions: `prompt` (what to ask) and
`handle` (read the answer, return an `Outcome`). Steps never write: the conversation store keeps the
state and the dispatcher performs the dialog's effect (file the proposal, ...) in the same
transaction. Steps may read through the `Lookups` they are given (find a room, similar proposals),
which tests can fake.

Two kinds of dialog share the engine. A *form* (提议题, 新建协商) is being filled in: a message its
step cannot read is answered with what the step needs, and the form is kept as a draft when left.
A *question* (a numbered list just shown, "which item do you rate?") only reads what answers it: a
message it cannot read goes on to the dispatcher's other routes, and it is never kept as a draft.

The control words — 取消, 返回, 帮助, 跳过, 确认 — are handled here, once, for every dialog. A step's
own reading comes first for 跳过-like and yes-like words, so an option called 不用了 or an answer 对
means what the step asked, not a control.

Voice: what WeChat's speech recognition heard (`Incoming.recognised`) is read back before a step that
takes the person's own words (`free_text`, or a step's `hears`) reads it: 「我听到的是：「…」，对吗？」.
The text waits in the data (`heard`, with its step); 对/是/确认/1 hands it to the step as if typed,
不对/不是/2 asks again, and anything else typed or said is the new answer (a typed one is taken as is).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Literal, Protocol

from bot.incoming import Incoming
from bot.services.proposals import SimilarRef
from bot.services.rooms import RoomRef
from bot.text import control_word, normalize

__all__ = ["RoomRef", "SimilarRef"]  # re-exported: steps and their tests name them from here

Data = dict[str, Any]
Kind = Literal["form", "question"]
MAX_PHOTOS = 9  # what WeChat lets a person pick at once


class Lookups(Protocol):
    """Read-only queries a step may make."""

    def rooms_matching(self, query: str) -> list[RoomRef]: ...

    def all_rooms(self, limit: int) -> list[RoomRef]: ...

    def similar_proposals(self, room_id: int, text: str, room_name: str | None = None) -> list[SimilarRef]: ...

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
    understood: bool = False  # the step knew what was meant and refuses it (列表里没有第 9 条): still its answer


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
    # Commands whose words this step reads as answers (the offer reads 提议题 as its option 2; the
    # review list reads 受理 1): the dispatcher lets the step have them before running the command.
    commands: frozenset[str] = frozenset()
    passes: bool = False  # a message it cannot read goes on to the dispatcher's other routes (a list just shown)
    free_text: bool = False  # answered in the person's own words: 「我的 小区门口…」 here is an answer, not 我的
    # Which recognised speech is read back before the step takes it; None: all of it at a free_text step.
    hears: Callable[[str], bool] | None = None


@dataclass(frozen=True)
class Dialog:
    name: str
    title: str  # what the user calls it: 提议题
    first: str
    steps: Mapping[str, Step]
    confirm: str  # the confirmation step; 确认 elsewhere jumps here once `required` is filled
    required: tuple[str, ...] = ()
    cancelled: str = ""  # said on 取消; the generic sentence when empty
    effects: tuple[str, ...] = ()  # every effect a step may finish with (a test holds them to the registry)
    kind: Kind = "form"
    timeout: timedelta | None = None  # how long it stays open; None: the deployment's DIALOG_TIMEOUT
    media: bool = False  # photos and locations sent at any step are kept with the data
    draft_keys: tuple[str, ...] = ()  # data that makes a form worth keeping as a draft before any step is answered
    leave_hint: bool = True  # a form's first question says what is being filled in and how to leave

    @property
    def is_form(self) -> bool:
        return self.kind == "form"


@dataclass
class Turn:
    """What one message did to a dialog: where it stands now, and what to say."""

    state: str | None  # None: the dialog is over
    data: Data
    stack: list[str]
    replies: list[str]
    effect: str | None = None
    read: bool = True  # False: the step could not read the message (the replies say what it needs)


CANCELLED = "已取消，填写的内容没有提交。"
VOICE = "暂时还听不懂语音。请直接打字，或长按您的语音选「转文字」，把文字发过来。"
CONTROL_HELP = "随时可回复：「返回」上一步 ·「取消」退出 ·「帮助」查看说明"
HEARD = "heard"  # data key: recognised speech waiting to be confirmed, {"state": ..., "text": ...}
HEARD_CHECK = "我听到的是：「{text}」，对吗？回复「对」继续，「不对」重新说或打字。"
SAY_AGAIN = "好的，请再说一遍，或直接打字。"
HEARD_YES = frozenset({"1", "没错", "正确", "对了", "是这样"})  # besides the confirm and agree control words
HEARD_NO = frozenset({"2", "不对", "不是", "错了", "不对的", "不是的", "说错了", "不正确", "错", "重说", "重新说"})


def begin(dialog: Dialog, data: Data, lookups: Lookups, note: str = "", heard: str = "") -> Turn:
    """Start `dialog` with some data already known (a remembered room, a prefilled text); `heard`:
    recognised speech that opened it, read back before the first step takes it."""
    turn = _enter(dialog, dialog.first, dict(data), [], lookups, note)
    if heard and turn.state is not None:
        return _hold(turn.state, turn.data, turn.stack, heard)
    if dialog.is_form and dialog.leave_hint and turn.state != dialog.confirm:
        turn.replies[-1] += f"\n（正在填写「{dialog.title}」，随时可回复「取消」退出。）"
    return turn


def resume(dialog: Dialog, state: str, data: Data, stack: list[str], lookups: Lookups, note: str) -> Turn:
    """Re-ask the current step of a kept draft (what was heard and not yet confirmed is let go)."""
    data = _forget(data)
    return Turn(state, data, stack, [_join(note, dialog.steps[state].prompt(data, lookups))])


def advance(dialog: Dialog, state: str, data: Data, stack: list[str], msg: Incoming, lookups: Lookups) -> Turn:
    """Feed one message to the dialog standing at `state`."""
    step = dialog.steps[state]
    heard = _heard(data, state)
    if heard is not None and msg.kind == "text":
        data = _forget(data)
        verdict = _verdict(msg.text)
        if verdict is False:
            return Turn(state, data, stack, [_join(SAY_AGAIN, step.prompt(data, lookups))])
        if verdict:
            msg = replace(msg, text=heard, recognised=False)
        # Anything else is the new answer: typed, taken as is; said, read back in turn.
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
    if step.free_text and word in {"skip", "confirm", "agree"}:
        # Own words are asked for: 没有, 确认 or 好 are not the answer (a choice step reads them first).
        return _unread(dialog, state, data, stack, msg, lookups, word, Retry(""))
    if word == "confirm" and state != dialog.confirm:
        return _unread(dialog, state, data, stack, msg, lookups, word, Retry(""))
    if msg.kind == "text" and msg.recognised and _hears(step, msg.text):
        return _hold(state, data, stack, msg.text)

    outcome = step.handle(data, msg, lookups)
    if isinstance(outcome, Retry):
        return _unread(dialog, state, data, stack, msg, lookups, word, outcome)
    merged = {**data, **outcome.updates}
    if isinstance(outcome, Finish):
        if outcome.effect not in dialog.effects:
            raise RuntimeError(f"dialog {dialog.name} finished with undeclared effect {outcome.effect}")
        return Turn(None, merged, stack, [], effect=outcome.effect)
    return _enter(dialog, outcome.state, merged, [*stack, state], lookups, outcome.note)


def _unread(
    dialog: Dialog,
    state: str,
    data: Data,
    stack: list[str],
    msg: Incoming,
    lookups: Lookups,
    word: str | None,
    retry: Retry,
) -> Turn:
    """The step could not read the message: a control word it left alone, a photo the form keeps, or what it needs."""
    step = dialog.steps[state]
    if retry.understood:
        return Turn(state, data, stack, [retry.message])
    if word == "skip":
        return Turn(state, data, stack, [_join("这一步不能跳过。", step.prompt(data, lookups))])
    if word == "agree" and step.free_text:
        return Turn(state, data, stack, [_join("好的。", step.prompt(data, lookups))])
    if word == "confirm" and state != dialog.confirm:
        missing = [key for key in dialog.required if not data.get(key)]
        if not missing:
            return _enter(dialog, dialog.confirm, data, [*stack, state], lookups)
        return Turn(state, data, stack, [_join("还不能提交，请先回答这一步。", step.prompt(data, lookups))])
    if dialog.media and msg.kind in {"image", "location"}:
        kept, note = keep_media(data, msg)
        return Turn(state, kept, stack, [_join(note, step.prompt(kept, lookups))])
    if msg.kind == "voice" and dialog.is_form:
        return Turn(state, data, stack, [_join(VOICE, step.prompt(data, lookups))])
    return Turn(state, data, stack, [retry.message], read=False)


def _hears(step: Step, text: str) -> bool:
    if step.hears is not None:
        return step.hears(text)
    return step.free_text


def _hold(state: str, data: Data, stack: list[str], text: str) -> Turn:
    """Recognised speech kept waiting at `state`, and the question that reads it back."""
    held = {**data, HEARD: {"state": state, "text": text}}
    return Turn(state, held, stack, [HEARD_CHECK.format(text=text.strip())])


def _heard(data: Data, state: str) -> str | None:
    held = data.get(HEARD)
    if isinstance(held, dict) and held.get("state") == state and isinstance(held.get("text"), str):
        return str(held["text"])
    return None


def _forget(data: Data) -> Data:
    return {key: value for key, value in data.items() if key != HEARD} if HEARD in data else data


def _verdict(text: str) -> bool | None:
    """True: what was heard is right (对, 是, 确认, 1); False: it is not (不对, 2); None: neither."""
    word = normalize(text)
    if word in HEARD_NO:
        return False
    if word in HEARD_YES or control_word(text) in {"confirm", "agree"}:
        return True
    return None


def keep_media(data: Data, msg: Incoming) -> tuple[Data, str]:
    """A photo or location sent along the way, kept with the data, and the sentence that says so."""
    if msg.kind == "location" and msg.latitude is not None and msg.longitude is not None:
        place = msg.label or "已发送的位置"
        updated = {"latitude": msg.latitude, "longitude": msg.longitude, "location_label": place}
        return {**data, **updated}, f"位置已收到：{place}。"
    photos = [list(p) for p in data.get("photos") or []]
    if len(photos) >= MAX_PHOTOS:
        return data, f"最多附 {MAX_PHOTOS} 张照片，这张没有加上。"
    photos.append([msg.media_id, msg.pic_url])
    return {**data, "photos": photos}, f"照片已收到（共 {len(photos)} 张），会一起提交。"


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
