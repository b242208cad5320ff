"""排序: residents compare pairs of the room's open proposals (1 / 2, 0 for 都不急), a few each; the
convenor reads the ranking with its confidence in 排序结果 and at the head of 待审."""

from __future__ import annotations

from collections.abc import Callable

from bot.context import Ctx
from bot.dialogs.engine import Data
from bot.dialogs.opinion import read_pair, read_vote
from bot.handlers.opinion import room_data
from bot.handlers.registry import Command
from bot.roles import CONVENORS
from bot.services import opinion_rounds, priority_rounds, sessions
from bot.services.priority_rounds import ANSWER_NAMES, PAIRS_PER_PERSON
from storage.models import PriorityPair


def cmd_rank(ctx: Ctx, _rest: str) -> list[str]:
    """排序：请提过、附议过提议的群众两两比较未办结的提议，排出先后。"""
    rooms = sessions.convened_rooms(ctx.session, person_id=ctx.person_id)
    plans: Data = {}
    for room in rooms:
        items = len(priority_rounds.open_items(ctx.session, room_id=room.id))
        people = len(priority_rounds.residents(ctx.session, room_id=room.id, exclude=ctx.person_id))
        plans[str(room.id)] = [items, people, min(PAIRS_PER_PERSON, items * (items - 1) // 2)]
    if not any(plan[0] >= 2 for plan in plans.values()):
        return ["您的议事室未办结的提议不到 2 件，不需要排序。"]
    return ctx.dialogs.start("priority_ask", {**room_data(ctx, rooms), "plans": plans})


def start_priority(ctx: Ctx, data: Data) -> list[str]:
    room_id = int(data["room_id"])
    if room_id not in {r.id for r in sessions.convened_rooms(ctx.session, person_id=ctx.person_id)}:
        return ["您不是这个议事室的召集人，没有发出。"]
    if len(priority_rounds.open_items(ctx.session, room_id=room_id)) < 2:
        return ["这个议事室未办结的提议不到 2 件，不需要排序。"]
    if not priority_rounds.residents(ctx.session, room_id=room_id, exclude=ctx.person_id):
        # Checked first: a round with nobody in it would close the last one and hide its ranking.
        return ["这个议事室还没有提过、附议过提议的群众，没有人可以排序。"]
    _round, people, items = priority_rounds.start(ctx.session, room_id=room_id, author_id=ctx.person_id, now=ctx.now)
    return [f"已请 {people} 位群众给 {items} 件提议排先后。发「排序结果」查看排名，「待审」也会显示。"]


def cmd_results(ctx: Ctx, _rest: str) -> list[str]:
    """排序结果：看群众两两比较排出的先后和把握。"""
    rooms = sessions.convened_rooms(ctx.session, person_id=ctx.person_id)
    shown = [ranking_text(ctx, room.id, room.name) for room in rooms]
    found = [text for text in shown if text]
    return found or ["还没有群众排序的结果。发「排序」请群众给未办结的提议排先后。"]


def ranking_text(ctx: Ctx, room_id: int, room_name: str) -> str:
    """The room's ranking for the convenor, or '' when there is none (待审 shows it too)."""
    result = priority_rounds.ranking(ctx.session, room_id=room_id)
    if result is None:
        return ""
    return f"「{room_name}」" + "\n".join(priority_rounds.lines(result))


def try_pending(ctx: Ctx) -> list[str] | None:
    """1 / 2 / 0 (or 第一个, 都不急) from someone a pair was put to; None otherwise. A statement asked
    more recently takes a digit both could read (bot/handlers/opinion.py defers the same way)."""
    choice = read_pair(ctx.msg.text)
    if choice is None:
        return None
    pair = priority_rounds.waiting_for(ctx.session, person_id=ctx.person_id)
    if pair is None:
        return None
    statement = opinion_rounds.waiting_for(ctx.session, person_id=ctx.person_id)
    if statement is not None and read_vote(ctx.msg.text) is not None:
        asked = statement[0].asked_at
        if asked is not None and (pair.asked_at is None or asked >= pair.asked_at):
            return None
    return _record(ctx, pair, choice)


def priority_answer(ctx: Ctx, data: Data) -> list[str]:
    """Effect of the pair question: the answer for the pair shown, then the next pair."""
    pair = priority_rounds.waiting_for(ctx.session, person_id=ctx.person_id)
    if pair is None or pair.id != int(data["pair_id"]):
        return ["这一组已经比过了。发「表态」接着回答。"]
    return _record(ctx, pair, str(data["choice"]))


def _record(ctx: Ctx, pair: PriorityPair, choice: str) -> list[str]:
    following = priority_rounds.answer(ctx.session, pair=pair, choice=choice, now=ctx.now)
    said = f"已记下：第 {pair.position} 组，{ANSWER_NAMES[choice]}。"
    if following is None or following.round_id != pair.round_id:
        return [f"{said}\n这几组都比完了，谢谢！召集人会参考大家排的先后。"]
    lead = f"{said}\n\n"
    data = {"pair_id": following.id, "ask": priority_rounds.ask(ctx.session, following)}
    if ctx.dialogs.form_open():
        return [f"{lead}{data['ask']}"]
    replies = ctx.dialogs.start("priority_pair", data)
    return [f"{lead}{replies[0]}", *replies[1:]]


COMMANDS: list[Command] = [
    Command("排序结果", ("排序结果", "排名", "优先排序结果"), cmd_results, "看群众排出的先后", roles=CONVENORS),
    Command("排序", ("排序", "排优先", "排先后"), cmd_rank, "请群众两两比较提议，排出先后", roles=CONVENORS),
]
EFFECTS: dict[str, Callable[[Ctx, Data], list[str]]] = {
    "start_priority": start_priority,
    "priority_answer": priority_answer,
}
