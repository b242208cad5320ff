"""Steps shared by several dialogs: choosing a room, confirming."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.dialogs.engine import Data, Finish, Goto, Lookups, Outcome, Prompt, Retry, Step
from bot.incoming import Incoming
from bot.services.rooms import RoomRef
from bot.text import choose, control_word, normalize, numbered, parse_number

ROOM_LIST_LIMIT = 9

Applies = Callable[[Data, Lookups], bool]


def typed(msg: Incoming) -> str:
    """The stripped text of a text message; empty for anything else (an image, a location)."""
    return msg.text.strip() if msg.kind == "text" else ""


def until_filled(key: str) -> Applies:
    """`applies` for the step that asks for `key`: passed over once it is known (prefilled or kept)."""
    return lambda data, _lookups: not data.get(key)


def said_confirm(msg: Incoming) -> bool:
    """确认, or a plain yes (好, 对) — on a confirmation card both mean go ahead."""
    return msg.kind == "text" and control_word(msg.text) in {"confirm", "agree"}


def confirm_hint(does: str, back: str = "修改") -> str:
    """The last line of a confirmation prompt."""
    return f"回复「确认」{does}；回复「返回」{back}；回复「取消」放弃。"


def confirm_step(
    state: str,
    prompt: Prompt,
    effect: str,
    *,
    does: str = "提交",
    retry: str = "",
    help: str = "",
    enter: Callable[[Data, Lookups], Mapping[str, Any]] | None = None,
    room_state: str = "",
) -> Step:
    """The closing step: 确认 finishes with `effect` (the runner writes); 换议事室 goes back to `room_state`
    when the dialog has one; anything else re-asks plainly."""
    again = retry or f"请回复「确认」{does}，「返回」修改，或「取消」放弃。"

    def handle(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
        if room_state and wants_room_change(msg):
            return change_room(room_state)
        return Finish(effect) if said_confirm(msg) else Retry(again)

    return Step(prompt, handle, next=state, enter=enter, help=help)


def _room_options(data: Data, lookups: Lookups) -> list[RoomRef]:
    if data.get("room_choices"):
        return [RoomRef(id=i, name=n) for i, n in data["room_choices"]]
    return lookups.all_rooms(ROOM_LIST_LIMIT)


def ask_room(data: Data, lookups: Lookups) -> str:
    options = _room_options(data, lookups)
    if not options:
        return "目前还没有开通议事室，请稍后再试或联系当地政协办。"
    heading = "找到几个相近的议事室，" if data.get("room_choices") else "请问您要找哪个议事室？"
    more = "" if data.get("room_choices") else "\n也可以直接输入议事室名称中的几个字，如「幸福社区」。"
    return f"{heading}请回复序号：\n{numbered([o.name for o in options])}{more}"


def handle_room(data: Data, msg: Incoming, lookups: Lookups) -> Outcome:
    if msg.kind != "text" or not msg.text.strip():
        return Retry("请回复议事室的序号或名称。")
    options = _room_options(data, lookups)
    if parse_number(msg.text) is not None:
        index = choose(msg.text, [o.name for o in options])
        if index is None:
            return Retry(f"没有这个序号，请回复 1 到 {len(options)} 之间的数字，或输入议事室名称。")
        return _picked(options[index])
    index = choose(msg.text, [o.name for o in options]) if data.get("room_choices") else None
    if index is not None:
        return _picked(options[index])
    matches = lookups.rooms_matching(msg.text)
    if len(matches) == 1:
        return _picked(matches[0])
    if matches:
        return Goto("", {"room_choices": [[m.id, m.name] for m in matches]})
    listing = numbered([o.name for o in lookups.all_rooms(ROOM_LIST_LIMIT)])
    return Retry(f"没有找到名称像「{msg.text.strip()[:20]}」的议事室。请换个说法，或回复序号：\n{listing}")


def _picked(room: RoomRef) -> Outcome:
    updates = {"room_id": room.id, "room_name": room.name, "room_choices": None, CHOOSING_ROOM: None}
    return Goto("", updates, note=f"已选择：{room.name}")


def room_step(state: str, next_state: str) -> Step:
    """Choose a room by number, by name or by a rough name; passed over when one is remembered."""

    def handle(data: Data, msg: Incoming, lookups: Lookups) -> Outcome:
        outcome = handle_room(data, msg, lookups)
        if isinstance(outcome, Goto):
            target = state if outcome.updates.get("room_choices") else next_state
            return Goto(target, outcome.updates, outcome.note)
        return outcome

    return Step(
        prompt=ask_room,
        handle=handle,
        next=next_state,
        applies=lambda data, _lookups: not data.get("room_id") or bool(data.get(CHOOSING_ROOM)),
        help="选择您要提交到的议事室（居住地或工作单位所在的村/社区、镇/街道）。",
    )


CHANGE_ROOM = ("换议事室", "换房间", "换个议事室", "更换议事室", "改议事室")
CHOOSING_ROOM = "choosing_room"  # 换议事室 was said: the room step asks again


def wants_room_change(msg: Incoming) -> bool:
    return msg.kind == "text" and normalize(msg.text) in CHANGE_ROOM


def change_room(room_state: str) -> Goto:
    """换议事室: back to the room step. The room chosen so far stays until another is picked, so 返回
    from the room step goes on with it: a form never goes on without a room."""
    return Goto(room_state, {CHOOSING_ROOM: True, "room_choices": None})


def room_line(data: Data) -> str:
    return f"（议事室：{data.get('room_name', '')}；要换议事室请回复「换议事室」）"
