"""征求意见: convenors put short statements to the room; people answer 同意 / 不同意 / 跳过 one at a time,
add their own (我也说一句, taken by 采用), and the convenor reads the groups' common ground and divisions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.context import Ctx
from bot.dialogs.engine import Data
from bot.dialogs.opinion import read_pair, read_vote
from bot.handlers import resident
from bot.handlers.registry import Command
from bot.roles import CONVENORS
from bot.services import opinion_rounds, priority_rounds, sessions
from bot.services.opinion_rounds import MAX_CHARS, MIN_CHARS, VOTE_NAMES, Results
from bot.services.opinions import Counts, StatementView
from bot.text import parse_number, shorten
from storage.models import OpinionParticipant, OpinionStatement, Room

MAX_LISTED = 3  # common ground and divisions shown in chat, each


def _rooms(ctx: Ctx) -> list[Room]:
    return sessions.convened_rooms(ctx.session, person_id=ctx.person_id)


def room_data(ctx: Ctx, rooms: list[Room]) -> Data:
    """The convenor's room preset when there is one, else the choices (shared with 排序)."""
    if len(rooms) == 1:
        return {"room_id": rooms[0].id, "room_name": rooms[0].name}
    return {"room_choices": [[r.id, r.name] for r in rooms]}


# --- the convenor -------------------------------------------------------------------------------


def cmd_ask(ctx: Ctx, rest: str) -> list[str]:
    """征求意见：发几句看法（一行一句，最多十句）请受邀人和委员、代表逐句表态。"""
    rooms = _rooms(ctx)
    audience = {
        str(r.id): len(
            opinion_rounds.audience(
                ctx.session,
                room_id=r.id,
                consult=opinion_rounds.next_session(ctx.session, room_id=r.id, now=ctx.now),
                sender_id=ctx.person_id,
            )
        )
        for r in rooms
    }
    data: Data = {**room_data(ctx, rooms), "audience": audience}
    parsed = opinion_rounds.parse(rest) if rest.strip() else None
    if parsed is not None and parsed.statements and not parsed.problems:
        data["statements"] = parsed.statements  # the statements came with the command
    return ctx.dialogs.start("opinion_ask", data)


def send_opinions(ctx: Ctx, data: Data) -> list[str]:
    room = next((r for r in _rooms(ctx) if r.id == int(data["room_id"])), None)
    if room is None:
        return ["您不是这个议事室的召集人，没有发出。"]
    consult = opinion_rounds.next_session(ctx.session, room_id=room.id, now=ctx.now)
    people = opinion_rounds.audience(ctx.session, room_id=room.id, consult=consult, sender_id=ctx.person_id)
    if not people:
        return [f"「{room.name}」还没有委员、代表或受邀人，没有人可以征求意见。"]
    statements = [str(s) for s in data["statements"]]
    opinion_rounds.start(
        ctx.session, room_id=room.id, author_id=ctx.person_id, statements=statements, people=people, now=ctx.now
    )
    return [
        f"已向 {len(people)} 人发出 {len(statements)} 句，请他们逐句表态。发「意见结果」查看大家都同意的和分歧最大的。"
    ]


def cmd_results(ctx: Ctx, _rest: str) -> list[str]:
    """意见结果：看征求意见中大家都同意的和分歧最大的几句。"""
    round_ = opinion_rounds.latest_round(ctx.session, room_ids=[r.id for r in _rooms(ctx)])
    if round_ is None:
        return ["还没有征求过意见。发「征求意见」，一行一句写下想听大家看法的话。"]
    return [results_text(opinion_rounds.results(ctx.session, round_=round_))]


def _counts(counts: Counts) -> str:
    return f"同意 {counts.agree} · 不同意 {counts.disagree} · 跳过 {counts.passed}"


def _line(results: Results, view: StatementView) -> str:
    statement = results.statements[view.statement_id]
    groups = "，".join(
        f"第{n}组 同意 {c.agree}/{c.seen}" for n, c in enumerate(view.by_group, 1) if c.seen and len(view.by_group) > 1
    )
    return f"第 {statement.number} 句「{statement.text}」\n  {_counts(view.total)}" + (
        f"（{groups}）" if groups else ""
    )


def results_text(results: Results) -> str:
    analysis = results.analysis
    sizes = "、".join(f"{n} 人" for n in analysis.group_sizes)
    grouping = (
        f"按表态分成 {len(analysis.group_sizes)} 组（{sizes}）" if len(analysis.group_sizes) > 1 else "没有明显分组"
    )
    parts = [f"「{results.round.room.name}」征求意见：问了 {results.asked} 人，{analysis.voters} 人表态，{grouping}。"]
    common = analysis.consensus[:MAX_LISTED]
    divided = analysis.divisive[:MAX_LISTED]
    parts.append("【大家都同意的】\n" + ("\n".join(_line(results, v) for v in common) if common else "（还没有）"))
    parts.append("【分歧最大的】\n" + ("\n".join(_line(results, v) for v in divided) if divided else "（还没有）"))
    if results.waiting:
        waiting = "\n".join(f"第 {s.number} 句「{s.text}」" for s in results.waiting)
        parts.append(f"【群众补充，待采用】\n{waiting}\n回复「采用 序号」发给大家表态，「不采用 序号」不发。")
    return "\n\n".join(parts)


def _decide(ctx: Ctx, rest: str, *, adopt: bool) -> list[str]:
    word = "采用" if adopt else "不采用"
    round_ = opinion_rounds.latest_round(ctx.session, room_ids=[r.id for r in _rooms(ctx)])
    if round_ is None or round_.closed_at is not None:
        return ["没有正在进行的征求意见。"]
    waiting = opinion_rounds.statements(ctx.session, round_id=round_.id, status="waiting")
    number = parse_number(rest) if rest.strip() else None
    if number is None:
        if not waiting:
            return ["没有待采用的群众补充。"]
        listed = "\n".join(f"第 {s.number} 句「{s.text}」" for s in waiting)
        return [f"待采用的群众补充：\n{listed}\n请回复「{word} 序号」，如「{word} {waiting[0].number}」。"]
    decided = opinion_rounds.decide(ctx.session, round_=round_, number=number, adopt=adopt, now=ctx.now)
    if decided is None:
        return [f"没有待采用的第 {number} 句。发「{word}」查看待采用的补充。"]
    if adopt:
        return [f"已采用第 {number} 句「{decided.text}」，会请大家表态。"]
    return [f"第 {number} 句「{decided.text}」不采用，不会发给大家。"]


def cmd_adopt(ctx: Ctx, rest: str) -> list[str]:
    """采用 序号：把群众补充的一句发给大家表态。"""
    return _decide(ctx, rest, adopt=True)


def cmd_reject(ctx: Ctx, rest: str) -> list[str]:
    """不采用 序号：群众补充的一句不发给大家。"""
    return _decide(ctx, rest, adopt=False)


# --- everyone asked ------------------------------------------------------------------------------


def cmd_add(ctx: Ctx, rest: str) -> list[str]:
    """我也说一句 …：给正在征求的意见补充一句您的看法（召集人采用后请大家表态）。"""
    waiting = opinion_rounds.asked_round(ctx.session, person_id=ctx.person_id)
    text = rest.strip()
    if waiting is None:
        if len(text) >= MIN_CHARS:  # nobody asked: what they said is offered for filing, never dropped
            note = "现在没有向您征求意见。"
            return ctx.dialogs.start("offer", {**resident.remembered_room(ctx), "texts": [text]}, note)
        return ["现在没有向您征求意见。收到「征求意见」后，可以回复「我也说一句 您的看法」。"]
    if not MIN_CHARS <= len(text) <= MAX_CHARS:
        return [f"请写成「我也说一句 您的看法」，一句话，{MIN_CHARS} 到 {MAX_CHARS} 个字。"]
    opinion_rounds.propose(ctx.session, round_=waiting, person_id=ctx.person_id, text=text, now=ctx.now)
    return [f"已收到您的看法「{shorten(text, 30)}」，召集人采用后会请大家表态。"]


def cmd_answer(ctx: Ctx, _rest: str) -> list[str]:
    """表态：接着回答向您征求的意见或排序。"""
    pair = priority_rounds.waiting_for(ctx.session, person_id=ctx.person_id)
    waiting = opinion_rounds.waiting_for(ctx.session, person_id=ctx.person_id)
    if waiting is not None and (pair is None or _newer(waiting[0], pair.asked_at)):
        return _ask(ctx, waiting[1], "")
    if pair is not None:
        pair.asked_at = ctx.now
        return _open(ctx, "priority_pair", {"pair_id": pair.id, "ask": priority_rounds.ask(ctx.session, pair)}, "")
    return ["现在没有等您表态的意见或排序。"]


def _newer(participant: OpinionParticipant, other: datetime | None) -> bool:
    """The statement was put to this person after the pair (or the pair was never shown)."""
    mine = participant.asked_at
    return other is None or (mine is not None and mine >= other)


def try_pending(ctx: Ctx) -> list[str] | None:
    """同意 / 不同意 / 跳过 (or 1 2 3) from someone a statement was put to; None otherwise. A pair asked
    more recently than the statement takes a digit both could read."""
    choice = read_vote(ctx.msg.text)
    if choice is None:
        return None
    waiting = opinion_rounds.waiting_for(ctx.session, person_id=ctx.person_id)
    if waiting is None:
        return None
    participant, statement = waiting
    pair = priority_rounds.waiting_for(ctx.session, person_id=ctx.person_id)
    if pair is not None and read_pair(ctx.msg.text) is not None and not _newer(participant, pair.asked_at):
        return None
    return _record(ctx, participant, statement, choice)


def opinion_vote(ctx: Ctx, data: Data) -> list[str]:
    """Effect of the statement question: the vote for the statement shown, then the next one."""
    waiting = opinion_rounds.waiting_for(ctx.session, person_id=ctx.person_id)
    if waiting is None or waiting[1].id != int(data["statement_id"]):
        return ["这一句已经答过了。", *(cmd_answer(ctx, "") if waiting else [])]
    return _record(ctx, waiting[0], waiting[1], str(data["vote"]))


def _record(ctx: Ctx, participant: OpinionParticipant, statement: OpinionStatement, choice: str) -> list[str]:
    opinion_rounds.vote(ctx.session, participant=participant, statement=statement, choice=choice, now=ctx.now)
    said = f"已记下：第 {statement.number} 句「{shorten(statement.text, 20)}」{VOTE_NAMES[choice]}。"
    following = opinion_rounds.waiting_for(ctx.session, person_id=ctx.person_id)
    if following is None or following[0].round_id != participant.round_id:
        done = "这一轮的话您都表过态了，谢谢！想补充自己的看法，可回复「我也说一句 您的看法」。"
        return [f"{said}\n{done}"]
    return _ask(ctx, following[1], said)


def _ask(ctx: Ctx, statement: OpinionStatement, said: str) -> list[str]:
    text = opinion_rounds.ask(ctx.session, statement, ctx.person_id)
    return _open(ctx, "opinion", {"statement_id": statement.id, "ask": text}, said)


def _open(ctx: Ctx, name: str, data: Data, said: str) -> list[str]:
    """Show the next question, opening it unless a form is being filled in (the form stays open; the
    answer then comes through the pending route)."""
    lead = f"{said}\n\n" if said else ""
    if ctx.dialogs.form_open():
        return [f"{lead}{data['ask']}"]
    replies = ctx.dialogs.start(name, data)
    return [f"{lead}{replies[0]}", *replies[1:]] if replies else [lead.strip()]


COMMANDS: list[Command] = [
    Command(
        "征求意见",
        ("征求意见", "征集意见", "征求看法"),
        cmd_ask,
        "发几句看法请大家逐句表态",
        roles=CONVENORS,
        inline=True,
    ),
    Command(
        "意见结果", ("意见结果", "征求结果", "表态结果"), cmd_results, "看大家都同意的和分歧最大的", roles=CONVENORS
    ),
    Command("不采用", ("不采用",), cmd_reject, "群众补充的一句不发给大家", roles=CONVENORS),
    Command("采用", ("采用",), cmd_adopt, "把群众补充的一句发给大家表态", roles=CONVENORS),
    Command("我也说一句", ("我也说一句", "补充一句"), cmd_add, "给征求的意见补充一句看法", inline=True),
    Command("表态", ("表态", "继续表态", "接着表态"), cmd_answer, "接着回答征求的意见或排序"),
]
EFFECTS: dict[str, Callable[[Ctx, Data], list[str]]] = {
    "send_opinions": send_opinions,
    "opinion_vote": opinion_vote,
}
