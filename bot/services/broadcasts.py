"""Broadcasts (广播): who an audience reaches, creating one with its outbox rows, and their tallies.

An audience is always counted and resolved by the same query, so the count in the preview is the
number of rows the broadcast gets (unless people join or unsubscribe between preview and 确认).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, func, insert, select, union
from sqlalchemy.orm import Session

from bot.services import delivery, outbox, proposals
from storage.models import (
    Broadcast,
    ConsultSession,
    OutboxMessage,
    Person,
    Proposal,
    ProposalSupporter,
    Role,
    Room,
    RoomRole,
    SessionInvitee,
    Suggestion,
)


class Audience(StrEnum):
    members = "members"  # 本室委员和代表
    residents = "residents"  # residents who have written to the room
    proposers = "proposers"  # proposer and supporters of one proposal
    invitees = "invitees"  # invitees of one session


AUDIENCE_NAMES: dict[str, str] = {
    Audience.members: "本室委员和代表",
    Audience.residents: "本室群众（给本室写过信的居民）",
    Audience.proposers: "某条提议的提议人和附议人",
    Audience.invitees: "某次协商的受邀人",
}
NEEDS_REF = frozenset({Audience.proposers, Audience.invitees})
INSERT_BATCH = 1000


def convenor_room(session: Session, *, person: Person) -> Room | None:
    """The room a convenor broadcasts for: the one they last used if they convene it, else their first."""
    rooms = list(
        session.scalars(
            select(Room)
            .join(RoomRole, RoomRole.room_id == Room.id)
            .where(RoomRole.person_id == person.id, RoomRole.role == Role.convenor)
            .order_by(Room.id)
        )
    )
    preferred = [room for room in rooms if room.id == person.last_room_id]
    return (preferred or rooms)[0] if rooms else None


def _audience_ids(room_id: int, audience: str, ref: int | None) -> Select[Any]:
    """Person ids an audience names, before unsubscriptions and the author are taken out."""
    if audience == Audience.members:
        return select(RoomRole.person_id).where(
            RoomRole.room_id == room_id, RoomRole.role.in_([Role.member, Role.representative])
        )
    if audience == Audience.residents:
        room_proposals = select(Proposal.id).where(Proposal.room_id == room_id)
        return select(
            union(
                select(Proposal.proposer_id).where(Proposal.room_id == room_id),
                select(ProposalSupporter.person_id).where(ProposalSupporter.proposal_id.in_(room_proposals)),
                select(Suggestion.person_id).where(Suggestion.room_id == room_id),
            ).subquery()
        )
    if audience == Audience.proposers:
        # Proposals merged into this one belong to the same question: their people hear too.
        related = select(Proposal.id).where(
            Proposal.room_id == room_id, (Proposal.id == ref) | (Proposal.merged_into_id == ref)
        )
        return select(
            union(
                select(Proposal.proposer_id).where(Proposal.id.in_(related)),
                select(ProposalSupporter.person_id).where(ProposalSupporter.proposal_id.in_(related)),
            ).subquery()
        )
    if audience == Audience.invitees:
        in_room = select(ConsultSession.id).where(ConsultSession.id == ref, ConsultSession.room_id == room_id)
        return select(SessionInvitee.person_id).where(SessionInvitee.session_id.in_(in_room))
    raise ValueError(f"unknown audience {audience!r}")


def _recipients(room_id: int, audience: str, ref: int | None, author_id: int) -> Select[Any]:
    return (
        select(Person.id)
        .where(
            Person.id.in_(_audience_ids(room_id, audience, ref)),
            Person.unsubscribed.is_(False),
            Person.id != author_id,
        )
        .order_by(Person.id)
    )


def count_recipients(session: Session, *, room_id: int, audience: str, ref: int | None, author_id: int) -> int:
    """How many people a broadcast would reach: unsubscribed people and the author are not counted."""
    query = _recipients(room_id, audience, ref, author_id).order_by(None).subquery()
    return int(session.scalar(select(func.count()).select_from(query)) or 0)


def framed(room_name: str, text: str) -> str:
    """What a recipient reads: who it is from, the text, and how to stop broadcasts (SPEC: 退订)."""
    return f"【{room_name}·通知】\n{text}\n——{room_name}（不想再收到通知，回复「退订」）"


def create_broadcast(
    session: Session, *, room_id: int, author_id: int, audience: str, ref: int | None, text: str, now: datetime
) -> Broadcast | None:
    """Store a broadcast and one outbox row per recipient, in the caller's transaction.

    None (and nothing written) when the audience reaches nobody.
    """
    ids = list(session.scalars(_recipients(room_id, audience, ref, author_id)))
    if not ids:
        return None
    room = session.get(Room, room_id)
    sent_text = framed(room.name if room else "议事室", text)
    broadcast = Broadcast(
        room_id=room_id,
        author_id=author_id,
        audience=audience,
        audience_ref=ref,
        text=text,
        recipients=len(ids),
        status="sending",
        created_at=now,
    )
    session.add(broadcast)
    session.flush()
    # The broadcast id is new, so none of these keys can exist yet: one multi-row insert instead of
    # the per-key check `outbox.enqueue` makes, which would cost a query per recipient.
    rows = [
        {
            "person_id": person_id,
            "kind": "text",
            "payload": {"text": sent_text},
            "idempotency_key": f"broadcast:{broadcast.id}:{person_id}",
            "status": outbox.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "broadcast_id": broadcast.id,
        }
        for person_id in ids
    ]
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(OutboxMessage), rows[start : start + INSERT_BATCH])
    return broadcast


@dataclass(frozen=True)
class ProposalOption:
    id: int
    receipt: str
    description: str


def open_proposals(session: Session, *, room_id: int, limit: int) -> list[ProposalOption]:
    """The room's proposals still in progress, newest first, to pick one by number."""
    rows = session.scalars(
        select(Proposal)
        .where(Proposal.room_id == room_id, Proposal.status.not_in(list(proposals.CLOSED)))
        .order_by(Proposal.created_at.desc(), Proposal.id.desc())
        .limit(limit)
    )
    return [ProposalOption(p.id, p.receipt or "", p.description) for p in rows]


def room_proposal(session: Session, *, room_id: int, receipt: str) -> ProposalOption | None:
    proposal = proposals.by_receipt(session, receipt=receipt)
    if proposal is None or proposal.room_id != room_id:
        return None
    return ProposalOption(proposal.id, proposal.receipt or "", proposal.description)


def upcoming_sessions(session: Session, *, room_id: int, now: datetime, limit: int) -> list[ConsultSession]:
    """The room's scheduled sessions that have not ended, soonest first."""
    return list(
        session.scalars(
            select(ConsultSession)
            .where(
                ConsultSession.room_id == room_id,
                ConsultSession.status == "scheduled",
                ConsultSession.ends_at > now,
            )
            .order_by(ConsultSession.starts_at, ConsultSession.id)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class BroadcastTally:
    broadcast: Broadcast
    counts: delivery.Tally


def recent(session: Session, *, room_id: int, limit: int = 5) -> list[BroadcastTally]:
    """The room's latest broadcasts with what became of their messages (delivered, unconfirmed, not, waiting)."""
    items = list(
        session.scalars(
            select(Broadcast)
            .where(Broadcast.room_id == room_id)
            .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
            .limit(limit)
        )
    )
    counts = delivery.tallies(session, broadcast_ids=[b.id for b in items])
    return [BroadcastTally(item, counts.get(item.id, delivery.Tally())) for item in items]


def set_unsubscribed(person: Person, *, unsubscribed: bool) -> bool:
    """Turn broadcasts off or on for a person. False when it was already so."""
    if bool(person.unsubscribed) == unsubscribed:
        return False
    person.unsubscribed = unsubscribed
    return True
