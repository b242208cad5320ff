"""征求意见 rounds in the database: who is asked, one statement at a time, their votes, their own statements.

A round belongs to a room (and to the session it prepares, the room's next one when it was sent). It
asks the session's invitees and the room's members and representatives; `join` adds anyone else (a
scan of the room's code). Each person gets the first statement by the outbox; each answer brings the
next one in the reply. A room has one open round: a new 征求意见 closes the one before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from bot.services import opinions, outbox
from bot.services.opinions import AGREE, DISAGREE, PASS, Analysis, StatementView
from storage.models import (
    ConsultSession,
    OpinionParticipant,
    OpinionRound,
    OpinionStatement,
    OpinionVote,
    OutboxMessage,
    Role,
    RoomRole,
    SessionInvitee,
)

INSERT_BATCH = 500
MAX_STATEMENTS = 10
MAX_CHARS = 60  # a short statement: one line on a phone
MIN_CHARS = 4
VOTE_NAMES = {AGREE: "同意", DISAGREE: "不同意", PASS: "跳过"}
OPTIONS = "回复 1 同意 · 2 不同意 · 3 跳过"
_NUMBERING = re.compile(r"^\s*(?:\d{1,2}|[一二三四五六七八九十]|[\u2460-\u2469])\s*[.、．:：)）]\s*")


@dataclass(frozen=True)
class Parsed:
    statements: list[str]
    problems: list[str]


def parse(text: str) -> Parsed:
    """One statement a line; numbering typed by habit (1. 2、 ①) is dropped, blank lines skipped."""
    lines = [_NUMBERING.sub("", line).strip() for line in text.splitlines()]
    statements = [line for line in lines if line]
    problems = [
        f"第 {n} 句有 {len(s)} 个字，请不超过 {MAX_CHARS} 字。"
        for n, s in enumerate(statements, 1)
        if len(s) > MAX_CHARS
    ]
    problems += [f"第 {n} 句太短，请写成一句完整的话。" for n, s in enumerate(statements, 1) if len(s) < MIN_CHARS]
    if len(statements) > MAX_STATEMENTS:
        problems.append(f"一共 {len(statements)} 句，最多 {MAX_STATEMENTS} 句。")
    return Parsed(statements, problems)


def next_session(session: Session, *, room_id: int, now: datetime) -> ConsultSession | None:
    return session.scalars(
        select(ConsultSession)
        .where(ConsultSession.room_id == room_id, ConsultSession.status == "scheduled", ConsultSession.ends_at > now)
        .order_by(ConsultSession.starts_at, ConsultSession.id)
        .limit(1)
    ).first()


def audience(session: Session, *, room_id: int, consult: ConsultSession | None, sender_id: int) -> list[int]:
    """The next session's invitees and the room's members and representatives (not the convenor sending)."""
    ids = set(
        session.scalars(
            select(RoomRole.person_id).where(
                RoomRole.room_id == room_id, RoomRole.role.in_((Role.member, Role.representative))
            )
        )
    )
    if consult is not None:
        ids.update(session.scalars(select(SessionInvitee.person_id).where(SessionInvitee.session_id == consult.id)))
    ids.discard(sender_id)
    return sorted(ids)


def open_round(session: Session, *, room_id: int) -> OpinionRound | None:
    return session.scalars(
        select(OpinionRound)
        .where(OpinionRound.room_id == room_id, OpinionRound.closed_at.is_(None))
        .order_by(OpinionRound.id.desc())
        .limit(1)
    ).first()


def latest_round(session: Session, *, room_ids: list[int]) -> OpinionRound | None:
    return session.scalars(
        select(OpinionRound).where(OpinionRound.room_id.in_(room_ids)).order_by(OpinionRound.id.desc()).limit(1)
    ).first()


def start(
    session: Session, *, room_id: int, author_id: int, statements: list[str], people: list[int], now: datetime
) -> OpinionRound:
    """A new round (closing the room's open one), its statements, and the first statement to everyone asked."""
    session.execute(
        update(OpinionRound)
        .where(OpinionRound.room_id == room_id, OpinionRound.closed_at.is_(None))
        .values(closed_at=now)
    )
    consult = next_session(session, room_id=room_id, now=now)
    round_ = OpinionRound(
        room_id=room_id, session_id=consult.id if consult else None, created_by=author_id, created_at=now
    )
    session.add(round_)
    session.flush()
    for number, line in enumerate(statements, 1):
        session.add(OpinionStatement(round_id=round_.id, number=number, text=line, author_id=author_id, created_at=now))
    session.flush()
    # The round is new: nobody has answered and no key exists yet, so everyone gets the same first
    # statement in two multi-row inserts (2,000 people would otherwise cost queries each).
    text = f"{_lead(round_)}\n\n第 1/{len(statements)} 句：「{statements[0]}」\n{OPTIONS}"
    participants = [{"round_id": round_.id, "person_id": p, "joined_at": now, "asked_at": now} for p in people]
    messages = [_outbox_row(p, text, f"opinion:{round_.id}:{p}", now) for p in people]
    for begin in range(0, len(people), INSERT_BATCH):
        session.execute(insert(OpinionParticipant), participants[begin : begin + INSERT_BATCH])
        session.execute(insert(OutboxMessage), messages[begin : begin + INSERT_BATCH])
    return round_


def _lead(round_: OpinionRound) -> str:
    return f"【征求意见】「{round_.room.name}」想听听您的看法，一次一句，随时可回复「我也说一句 …」补充您的看法。"


def _outbox_row(person_id: int, text: str, key: str, now: datetime) -> dict[str, object]:
    return {
        "person_id": person_id,
        "kind": "text",
        "payload": {"text": text},
        "idempotency_key": key,
        "status": outbox.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def join(session: Session, *, round_: OpinionRound, person_id: int, now: datetime) -> bool:
    """Ask one more person (a scan of the room's code, an invitee added later): they get the first
    statement they have not answered by the outbox. False when they were already asked."""
    if session.get(OpinionParticipant, (round_.id, person_id)) is not None:
        return False
    session.add(OpinionParticipant(round_id=round_.id, person_id=person_id, joined_at=now, asked_at=now))
    session.flush()
    waiting = current(session, round_=round_, person_id=person_id)
    if waiting is not None:
        text = f"{_lead(round_)}\n\n{ask(session, waiting, person_id)}"
        outbox.enqueue_text(session, person_id=person_id, text=text, key=f"opinion:{round_.id}:{person_id}", now=now)
    return True


def statements(session: Session, *, round_id: int, status: str = "shown") -> list[OpinionStatement]:
    return list(
        session.scalars(
            select(OpinionStatement)
            .where(OpinionStatement.round_id == round_id, OpinionStatement.status == status)
            .order_by(OpinionStatement.number)
        )
    )


def current(session: Session, *, round_: OpinionRound, person_id: int) -> OpinionStatement | None:
    """The first shown statement of the round this person has not answered."""
    answered = select(OpinionVote.statement_id).where(
        OpinionVote.round_id == round_.id, OpinionVote.person_id == person_id
    )
    return session.scalars(
        select(OpinionStatement)
        .where(
            OpinionStatement.round_id == round_.id,
            OpinionStatement.status == "shown",
            OpinionStatement.id.not_in(answered),
        )
        .order_by(OpinionStatement.number)
        .limit(1)
    ).first()


def waiting_for(session: Session, *, person_id: int) -> tuple[OpinionParticipant, OpinionStatement] | None:
    """The open round asking this person most recently, with its statement they have not answered yet."""
    rows = session.execute(
        select(OpinionParticipant, OpinionRound)
        .join(OpinionRound, OpinionRound.id == OpinionParticipant.round_id)
        .where(OpinionParticipant.person_id == person_id, OpinionRound.closed_at.is_(None))
        .order_by(OpinionParticipant.asked_at.desc(), OpinionRound.id.desc())
    ).all()
    for participant, round_ in rows:
        statement = current(session, round_=round_, person_id=person_id)
        if statement is not None:
            return participant, statement
    return None


def asked_round(session: Session, *, person_id: int) -> OpinionRound | None:
    """The open round that asked this person most recently (where 我也说一句 goes)."""
    return session.scalars(
        select(OpinionRound)
        .join(OpinionParticipant, OpinionParticipant.round_id == OpinionRound.id)
        .where(OpinionParticipant.person_id == person_id, OpinionRound.closed_at.is_(None))
        .order_by(OpinionParticipant.asked_at.desc(), OpinionRound.id.desc())
        .limit(1)
    ).first()


def ask(session: Session, statement: OpinionStatement, person_id: int) -> str:
    """A statement as put to a person: where they are in the round, the statement, the options."""
    total = len(statements(session, round_id=statement.round_id))
    done = session.scalars(
        select(OpinionVote.statement_id).where(
            OpinionVote.round_id == statement.round_id, OpinionVote.person_id == person_id
        )
    ).all()
    return f"第 {len(done) + 1}/{total} 句：「{statement.text}」\n{OPTIONS}"


def vote(
    session: Session, *, participant: OpinionParticipant, statement: OpinionStatement, choice: str, now: datetime
) -> None:
    session.add(
        OpinionVote(
            statement_id=statement.id,
            person_id=participant.person_id,
            round_id=statement.round_id,
            vote=choice,
            created_at=now,
        )
    )
    participant.asked_at = now
    session.flush()


def propose(session: Session, *, round_: OpinionRound, person_id: int, text: str, now: datetime) -> OpinionStatement:
    """A participant's own statement: it waits for the convenor's 采用 (who is told now)."""
    number = 1 + max((s.number for s in _all(session, round_.id)), default=0)
    statement = OpinionStatement(
        round_id=round_.id, number=number, text=text, author_id=person_id, status="waiting", created_at=now
    )
    session.add(statement)
    session.flush()
    if round_.created_by is not None:
        note = f"有人为「{round_.room.name}」的征求意见补充了一句（第 {number} 句）：\n「{text}」\n回复「采用 {number}」发给大家表态，或「不采用 {number}」。"
        outbox.enqueue_text(
            session, person_id=round_.created_by, text=note, key=f"opinion-proposed:{statement.id}", now=now
        )
    return statement


def decide(
    session: Session, *, round_: OpinionRound, number: int, adopt: bool, now: datetime
) -> OpinionStatement | None:
    """采用 / 不采用 a waiting statement. Adopted, it is put to the people who had answered everything
    (the others meet it after their last statement)."""
    statement = next((s for s in _all(session, round_.id) if s.number == number and s.status == "waiting"), None)
    if statement is None:
        return None
    statement.status = "shown" if adopt else "declined"
    session.flush()
    if adopt:
        participants = session.scalars(select(OpinionParticipant).where(OpinionParticipant.round_id == round_.id))
        for participant in participants:
            first = current(session, round_=round_, person_id=participant.person_id)
            if first is not None and first.id == statement.id:
                participant.asked_at = now
                text = f"【征求意见】「{round_.room.name}」补充了一句，想听听您的看法：\n\n{ask(session, first, participant.person_id)}"
                key = f"opinion-added:{statement.id}:{participant.person_id}"
                outbox.enqueue_text(session, person_id=participant.person_id, text=text, key=key, now=now)
    return statement


def _all(session: Session, round_id: int) -> list[OpinionStatement]:
    return list(session.scalars(select(OpinionStatement).where(OpinionStatement.round_id == round_id)))


@dataclass(frozen=True)
class Results:
    round: OpinionRound
    statements: dict[int, OpinionStatement]  # shown ones, by id
    analysis: Analysis
    asked: int
    waiting: list[OpinionStatement]  # residents' statements not yet decided


def results(session: Session, *, round_: OpinionRound) -> Results:
    shown = statements(session, round_id=round_.id)
    votes = session.execute(
        select(OpinionVote.person_id, OpinionVote.statement_id, OpinionVote.vote).where(
            OpinionVote.round_id == round_.id
        )
    ).all()
    asked = len(
        session.scalars(select(OpinionParticipant.person_id).where(OpinionParticipant.round_id == round_.id)).all()
    )
    analysis = opinions.analyse(((p, s, v) for p, s, v in votes), [s.id for s in shown], seed=round_.id)
    return Results(
        round_, {s.id: s for s in shown}, analysis, asked, statements(session, round_id=round_.id, status="waiting")
    )


def for_session(session: Session, *, session_id: int) -> OpinionRound | None:
    """The newest round preparing this session (for its live page)."""
    return session.scalars(
        select(OpinionRound).where(OpinionRound.session_id == session_id).order_by(OpinionRound.id.desc()).limit(1)
    ).first()


__all__ = ["AGREE", "DISAGREE", "PASS", "VOTE_NAMES", "StatementView"]
