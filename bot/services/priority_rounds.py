"""排序 rounds in the database: pairs of a room's open proposals put to the residents who filed or supported
its proposals, one pair at a time, and the ranking fitted from their answers (bot/services/priorities.py).

A room has one open round: a new 排序 closes the one before. The ranking shown (待审, 排序结果, the public
board, bot/services/board.py) is the room's latest round's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, union, update
from sqlalchemy.orm import Session

from bot.services import outbox, priorities
from bot.services.privacy import mask_phones
from bot.services.proposals import CLOSED
from bot.text import shorten
from storage.models import OutboxMessage, PriorityPair, PriorityRound, Proposal, ProposalSupporter

PAIRS_PER_PERSON = 3  # "a few pairs per person": enough for a ranking, few enough to answer in a minute
MAX_ITEMS = 20
INSERT_BATCH = 500
FIRST, SECOND, NEITHER = "first", "second", "neither"
ANSWER_NAMES = {FIRST: "第 1 件更急", SECOND: "第 2 件更急", NEITHER: "都不急"}
QUESTION = "哪个更急？回复 1 或 2，都不急回复 0"


def open_items(session: Session, *, room_id: int) -> list[Proposal]:
    """The room's open proposals, oldest first (at most MAX_ITEMS)."""
    return list(
        session.scalars(
            select(Proposal)
            .where(Proposal.room_id == room_id, Proposal.status.not_in(CLOSED), Proposal.receipt.is_not(None))
            .order_by(Proposal.created_at, Proposal.id)
            .limit(MAX_ITEMS)
        )
    )


def residents(session: Session, *, room_id: int, exclude: int) -> list[int]:
    """Everyone who filed or supported a proposal of the room."""
    filed = select(Proposal.proposer_id.label("pid")).where(Proposal.room_id == room_id)
    supported = (
        select(ProposalSupporter.person_id.label("pid"))
        .join(Proposal, Proposal.id == ProposalSupporter.proposal_id)
        .where(Proposal.room_id == room_id)
    )
    ids = set(session.scalars(select(union(filed, supported).subquery().c.pid)))
    ids.discard(exclude)
    return sorted(ids)


def label(proposal: Proposal) -> str:
    return f"{proposal.receipt} {shorten(mask_phones(proposal.description), 30)}"


def ask(session: Session, pair: PriorityPair) -> str:
    first, second = session.get(Proposal, pair.first_id), session.get(Proposal, pair.second_id)
    assert first is not None and second is not None
    total = len(
        session.scalars(
            select(PriorityPair.id).where(
                PriorityPair.round_id == pair.round_id, PriorityPair.person_id == pair.person_id
            )
        ).all()
    )
    return f"第 {pair.position}/{total} 组：\n1. {label(first)}\n2. {label(second)}\n{QUESTION}"


def start(session: Session, *, room_id: int, author_id: int, now: datetime) -> tuple[PriorityRound, int, int]:
    """A new round: each resident's pairs stored and the first sent. Returns (round, people, items)."""
    items = open_items(session, room_id=room_id)
    people = residents(session, room_id=room_id, exclude=author_id)
    session.execute(
        update(PriorityRound)
        .where(PriorityRound.room_id == room_id, PriorityRound.closed_at.is_(None))
        .values(closed_at=now)
    )
    round_ = PriorityRound(room_id=room_id, created_by=author_id, created_at=now)
    session.add(round_)
    session.flush()
    dealt = priorities.assign_pairs([p.id for p in items], people, per_person=PAIRS_PER_PERSON, seed=round_.id)
    rows = [
        {
            "round_id": round_.id,
            "person_id": person_id,
            "position": n,
            "first_id": a,
            "second_id": b,
            "asked_at": now if n == 1 else None,
        }
        for person_id, pairs in dealt.items()
        for n, (a, b) in enumerate(pairs, 1)
    ]
    by_id = {p.id: p for p in items}
    room_name = items[0].room.name if items else ""
    messages = [
        {
            "person_id": person_id,
            "kind": "text",
            "payload": {"text": _first_text(room_name, by_id[pairs[0][0]], by_id[pairs[0][1]], len(pairs))},
            "idempotency_key": f"priority:{round_.id}:{person_id}",
            "status": outbox.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for person_id, pairs in dealt.items()
    ]
    for begin in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(PriorityPair), rows[begin : begin + INSERT_BATCH])
    for begin in range(0, len(messages), INSERT_BATCH):
        session.execute(insert(OutboxMessage), messages[begin : begin + INSERT_BATCH])
    return round_, len(dealt), len(items)


def _first_text(room_name: str, first: Proposal, second: Proposal, total: int) -> str:
    return (
        f"【排个先后】「{room_name}」有几件事在等着办，请帮忙比一比（共 {total} 组）。\n\n"
        f"第 1/{total} 组：\n1. {label(first)}\n2. {label(second)}\n{QUESTION}"
    )


def waiting_for(session: Session, *, person_id: int) -> PriorityPair | None:
    """This person's next unanswered pair of an open round (the newest round first)."""
    return session.scalars(
        select(PriorityPair)
        .join(PriorityRound, PriorityRound.id == PriorityPair.round_id)
        .where(
            PriorityPair.person_id == person_id,
            PriorityPair.answer.is_(None),
            PriorityRound.closed_at.is_(None),
        )
        .order_by(PriorityRound.id.desc(), PriorityPair.position)
        .limit(1)
    ).first()


def answer(session: Session, *, pair: PriorityPair, choice: str, now: datetime) -> PriorityPair | None:
    """Record the answer; the person's next pair (marked asked now), or None when they are done."""
    pair.answer = choice
    pair.answered_at = now
    session.flush()
    following = waiting_for(session, person_id=pair.person_id)
    if following is not None:
        following.asked_at = now
    return following


@dataclass(frozen=True)
class Ranking:
    round: PriorityRound
    rows: list[tuple[Proposal, priorities.Ranked]]
    people: int  # who answered at least one pair
    answers: int


def ranking(session: Session, *, room_id: int) -> Ranking | None:
    """The room's latest round, fitted; None when there is none or nobody answered yet."""
    round_ = session.scalars(
        select(PriorityRound).where(PriorityRound.room_id == room_id).order_by(PriorityRound.id.desc()).limit(1)
    ).first()
    if round_ is None:
        return None
    answered = session.execute(
        select(PriorityPair.person_id, PriorityPair.first_id, PriorityPair.second_id, PriorityPair.answer).where(
            PriorityPair.round_id == round_.id, PriorityPair.answer.is_not(None)
        )
    ).all()
    if not answered:
        return None
    ids = sorted({i for _p, a, b, _c in answered for i in (a, b)})
    proposals = {p.id: p for p in session.scalars(select(Proposal).where(Proposal.id.in_(ids)))}
    fitted = priorities.fit(ids, [(a, b, str(c)) for _p, a, b, c in answered])
    return Ranking(
        round=round_,
        rows=[(proposals[r.item_id], r) for r in fitted],
        people=len({p for p, *_ in answered}),
        answers=len(answered),
    )


def lines(result: Ranking) -> list[str]:
    """The ranking as the convenor reads it (排序结果, 待审)."""
    head = f"群众排序（{result.people} 人比较了 {result.answers} 次；急迫度 0–100，± 为 95% 范围）："
    body = [
        f"{n}. {label(p)}  急迫度 {r.score:.0f}±{r.margin:.0f}（比较 {r.comparisons} 次，{r.wins} 次更急"
        + (f"，都不急 {r.neither} 次" if r.neither else "")
        + "）"
        for n, (p, r) in enumerate(result.rows, 1)
    ]
    return [head, *body]
