"""Proposals (群众出题): filing, supporting (附议), status changes with their history, receipts."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import cast

from sqlalchemy import Connection, Insert, Row, Table, Update, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from bot.services import categories, keywords, moderation, rooms
from storage.db import SessionOrConnection, connection_of, flushed
from storage.models import (
    Proposal,
    ProposalKeyword,
    ProposalStatus,
    ProposalSupporter,
    Role,
    Room,
    RoomRole,
    StatusChange,
)

STATUS_NAMES: dict[str, str] = {
    ProposalStatus.submitted: "已提交",
    ProposalStatus.accepted: "已受理",
    ProposalStatus.merged: "已合并",
    ProposalStatus.declined: "不予采纳",
    ProposalStatus.approved: "已审定",
    ProposalStatus.scheduled: "已列入协商",
    ProposalStatus.consulted: "已协商",
    ProposalStatus.in_progress: "办理中",
    ProposalStatus.answered: "已反馈",
    ProposalStatus.rated: "已评价",
    ProposalStatus.escalated: "已报上级",
    ProposalStatus.returned: "上级退回",
}
CLOSED = frozenset({ProposalStatus.merged, ProposalStatus.declined, ProposalStatus.answered, ProposalStatus.rated})

RECEIPT = re.compile(r"(?<![A-Z0-9])(YS|WJ)-?(\d{4})-?(\d{6})(?!\d)", re.IGNORECASE)


def receipt_for(prefix: str, year: int, number: int) -> str:
    return f"{prefix}-{year}-{number:06d}"


def find_receipt(text: str) -> str | None:
    """A receipt number in what was typed, normalised: `ys2026000123` -> `YS-2026-000123`."""
    match = RECEIPT.search(text.upper().replace(" ", ""))
    if not match:
        return None
    return f"{match.group(1).upper()}-{match.group(2)}-{match.group(3)}"


# After a command word (评价, 回应, a follow-up answer) receipts are typed loosely: `wj2026-12`,
# `WJ 2026 000012`, full-width forms.
_LOOSE_RECEIPT = re.compile(r"(Y\s*S|W\s*J)\s*[-_—－]?\s*(\d{4})\s*[-_—－]?\s*(\d{1,6})(?!\d)", re.IGNORECASE)
_RECEIPT_INITIALS = frozenset("YyWwＹｙＷｗ")  # YS / WJ, as typed or full-width


def split_receipt(text: str) -> tuple[str | None, str]:
    """(normalised receipt or None, the rest as typed) for `WJ-2026-000012 已安排物业本周修好`."""
    # Every message outside a dialog passes here (ratings, follow-up answers): no Y or W, no receipt.
    m = _LOOSE_RECEIPT.search(_fold_widths(text)) if _RECEIPT_INITIALS.intersection(text) else None
    if m is None:
        return None, text.strip()
    rest = (text[: m.start()] + " " + text[m.end() :]).strip().lstrip("：:，,。 ").strip()
    return receipt_for(m[1].upper().replace(" ", ""), int(m[2]), int(m[3])), rest


def _fold_widths(text: str) -> str:
    """NFKC character by character where it keeps one character (ＷＪ→WJ, ２→2), so positions still match."""
    folded = (unicodedata.normalize("NFKC", ch) for ch in text)
    return "".join(f if len(f) == 1 else ch for f, ch in zip(folded, text, strict=True))


@dataclass(frozen=True)
class NewProposal:
    room_id: int
    proposer_id: int
    description: str
    source: str = "resident"
    photo_url: str | None = None
    photo_media_id: str | None = None
    location_label: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    phone_masked: str | None = None
    phone_cipher: str | None = None
    held: bool = False  # it names a kept word (moderation.matches): public pages leave it out until 公开
    # Its first answer's clock (clocks.first_answer_due), when filed by a person rather than imported.
    answer_due_at: datetime | None = None
    escalate_at: datetime | None = None


@dataclass(frozen=True)
class Filed:
    """A proposal or 微建言 just stored: what the filing reply and the convenors' notice need."""

    id: int
    receipt: str


# What `indexed` makes of a text changes with the synonym table, the stop words, the places and the rules
# that read them: bump this with any change that alters it. A proposal keeps the number it was indexed
# under; older ones are brought up to date in the background (scheduler/jobs.py `reindex_stale`), a batch
# at a time, or all at once by `shangliang reindex`. 2: the request everyone ends with is not a keyword.
INDEX_RULES = 2

# How `proposal_keywords` holds a text's terms: a synonym group as #路灯, a place as @3号楼, any other
# keyword as it is (酒吧). The marks keep the three apart in one indexed column.
GROUP_MARK = "#"
PLACE_MARK = "@"


@dataclass(frozen=True)
class Indexed:
    """What the keyword index and the category column hold for one description."""

    tags: str  # the categories, as `proposals.tags` keeps them
    keywords: list[tuple[str, float]]  # (#group, other keyword or @place, weight) for `proposal_keywords`

    @cached_property
    def names_a_group(self) -> bool:
        return any(keyword.startswith(GROUP_MARK) for keyword, _ in self.keywords)

    # Worked out once per look-up, not once per candidate it is ranked against.
    @cached_property
    def weights(self) -> dict[str, float]:
        return dict(self.keywords)

    @cached_property
    def problem_norm(self) -> float:
        return sum(w * w for k, w in self.keywords if not k.startswith(PLACE_MARK))


def indexed(description: str, room_name: str = "") -> Indexed:
    """The categories and keyword-index rows of a proposal's description (filing, reindex, benchmarks)."""
    terms = keywords.analyse(description, room_name)
    rows = [
        *((GROUP_MARK + name, weight) for name, weight in terms.groups),
        *terms.words,
        *(((PLACE_MARK + place)[:32], 1.0) for place in terms.places),
    ]
    return Indexed(categories.stored(categories.assign(dict(terms.groups))), rows)


def _is_member(connection: Connection, *, room_id: int, person_id: int) -> bool:
    return connection.scalar(_MEMBER, {"room_id": room_id, "person_id": person_id}) is not None


# Built once, as each filing asks it.
_MEMBER = select(RoomRole.id).where(
    RoomRole.room_id == bindparam("room_id"), RoomRole.person_id == bindparam("person_id"), RoomRole.role == Role.member
)


def file(session: Session, *, new: NewProposal, now: datetime, room_name: str | None = None) -> Filed:
    """Store a proposal with its receipt, keywords, categories and first history row. A member of the room
    filing in it recommends a topic (委员荐题): its source says so, and their 履职档案 counts it.
    `room_name`: the room's name when the caller has it (the index leaves it out of the keywords).

    Core statements on the session's connection, none read back here: the ORM's unit of work cost more
    than the rest of a filing together. `file_proposal` loads the row as an object for callers that
    go on to change it."""
    if room_name is None:
        room_name = rooms.name_of(session, room_id=new.room_id)
    index = indexed(new.description, room_name)
    connection = flushed(session)
    source = new.source
    if source == "resident" and _is_member(connection, room_id=new.room_id, person_id=new.proposer_id):
        source = "member"
    row = {
        "room_id": new.room_id,
        "proposer_id": new.proposer_id,
        "source": source,
        "description": new.description,
        "photo_url": new.photo_url,
        "photo_media_id": new.photo_media_id,
        "location_label": new.location_label,
        "latitude": new.latitude,
        "longitude": new.longitude,
        "phone_masked": new.phone_masked,
        "phone_cipher": new.phone_cipher,
        "status": ProposalStatus.submitted,
        "tags": index.tags,
        "index_version": INDEX_RULES,
        "visibility": moderation.HELD if new.held else moderation.SHOWN,
        "answer_due_at": new.answer_due_at,
        "escalate_at": new.escalate_at,
        "created_at": now,
        "updated_at": now,
    }
    filed = insert_with_receipt(connection, _proposals, row, prefix="YS", year=now.year)
    if index.keywords:
        connection.execute(
            _KEYWORD_ROWS,
            [
                {"proposal_id": filed.id, "keyword": word, "room_id": new.room_id, "weight": weight, "is_open": True}
                for word, weight in index.keywords
            ],
        )
    connection.execute(
        _HISTORY_ROW,
        {
            "proposal_id": filed.id,
            "from_status": None,
            "to_status": ProposalStatus.submitted,
            "actor_id": new.proposer_id,
            "reason": "群众提议",
            "created_at": now,
        },
    )
    return filed


def file_proposal(session: Session, *, new: NewProposal, now: datetime, room_name: str | None = None) -> Proposal:
    """`file`, and the stored proposal as an ORM object."""
    proposal = session.get(Proposal, file(session, new=new, now=now, room_name=room_name).id)
    assert proposal is not None  # stored just now, in this transaction
    return proposal


def insert_with_receipt(
    connection: Connection, table: Table, row: dict[str, object], *, prefix: str, year: int
) -> Filed:
    """Insert one proposal or 微建言 and give it its receipt (`YS-2026-000123`), which is made of the id
    the insert chose: two prebuilt Core statements."""
    key = connection.execute(_insert_into(table), row).inserted_primary_key  # RETURNING, or SQLite's lastrowid
    assert key is not None
    row_id = int(key[0])
    receipt = receipt_for(prefix, year, row_id)
    connection.execute(_receipt_of(table), {"row_id": row_id, "new_receipt": receipt})
    return Filed(row_id, receipt)


@functools.cache
def _insert_into(table: Table) -> Insert:
    return insert(table)


@functools.cache
def _receipt_of(table: Table) -> Update:
    return update(table).where(table.c.id == bindparam("row_id")).values(receipt=bindparam("new_receipt"))


_proposals = cast(Table, Proposal.__table__)
_KEYWORD_ROWS = insert(cast(Table, ProposalKeyword.__table__))
_HISTORY_ROW = insert(cast(Table, StatusChange.__table__))


@dataclass(frozen=True)
class SimilarRef:
    """An open proposal as the 提议题 dialog offers it for support (附议)."""

    id: int
    receipt: str
    summary: str
    supporters: int


@dataclass(frozen=True)
class Similar:
    """An open proposal about the same problem, as the look-up ranks it."""

    id: int
    receipt: str | None
    description: str
    supporters: int


# Similar means sharing problem terms worth at least this much: one synonym group of full weight, or
# a THING group and one more term, or the same uncommon keyword ranked first in both texts. 3号楼路灯
# 坏了 and 晚上照明太暗 (#路灯) are similar; 3号楼路灯坏了 and 3号楼垃圾桶太少 share only @3号楼: not.
SIMILAR_AT = 0.5
# Ranking: how much of both problems is shared (Dice on the problem terms, 0..1), plus this much for
# every place both name, so the same problem at the same place comes first.
PLACE_BONUS = 0.2
# Only the newest open proposals sharing a problem term are ranked: a room with a thousand open
# complaints about street lights would otherwise read every one's keywords on every 提议题.
SIMILAR_CANDIDATES = 200


def match_rank(query: Indexed, candidate: Iterable[tuple[str, float]]) -> float | None:
    """How well a proposal's index rows match the query's (higher first), or None: not the same problem.

    Places never make a match, they only rank one. When both texts name problems the synonym table
    knows and none of them is the same, other shared words (often a name: 文化礼堂) do not make one.
    """
    wanted = query.weights
    shared_groups = shared_words = same_places = own_norm = 0.0
    names_a_group = False
    for keyword, weight in candidate:
        if keyword.startswith(PLACE_MARK):
            same_places += weight * wanted.get(keyword, 0.0)
            continue
        own_norm += weight * weight
        if keyword.startswith(GROUP_MARK):
            names_a_group = True
            shared_groups += weight * wanted.get(keyword, 0.0)
        else:
            shared_words += weight * wanted.get(keyword, 0.0)
    shared = shared_groups + shared_words
    if shared < SIMILAR_AT or (query.names_a_group and names_a_group and not shared_groups):
        return None
    return 2 * shared / (query.problem_norm + own_norm) + PLACE_BONUS * same_places


def similar_open(
    source: SessionOrConnection, *, room_id: int, text: str, limit: int = 3, room_name: str | None = None
) -> list[Similar]:
    """Up to `limit` open proposals in the room about the same problem as `text` (`match_rank`), best first.

    One indexed query reads the keyword rows of the room's open proposals that share a problem term
    with `text` (nothing scans proposal text); the winners come back with their supporter counts in
    one more. `room_name`: the room's name when the caller has it (as for filing).
    """
    connection = connection_of(source)
    if room_name is None:
        room_name = rooms.name_of(connection, room_id=room_id)
    query = indexed(text, room_name)
    problem_terms = [k for k, _ in query.keywords if not k.startswith(PLACE_MARK)]
    if not problem_terms:
        return []
    candidates: dict[int, list[tuple[str, float]]] = {}
    # Plain rows on the connection: thousands of keyword rows through the ORM's loader cost more than the query.
    params = {"room_id": room_id, "terms": problem_terms, "most": SIMILAR_CANDIDATES}
    # .all(): one fetchall() in C, where iterating the result fetches row by row (a third of the read).
    for proposal_id, keyword, weight in connection.execute(_CANDIDATE_ROWS, params).all():
        candidates.setdefault(proposal_id, []).append((keyword, weight))
    scored = [(rank, pid) for pid, rows in candidates.items() if (rank := match_rank(query, rows)) is not None]
    ranked = [pid for _, pid in sorted(scored, reverse=True)[:limit]]  # best first, then the newest
    if not ranked:
        return []
    found = {row.id: Similar(*row) for row in connection.execute(_WINNERS, {"ids": ranked})}
    return [found[pid] for pid in ranked if pid in found]


# Built once (a look-up runs on every 提议题 description): the statements, not just their SQL, cost.
_SHARING = (
    select(ProposalKeyword.proposal_id)
    .where(
        ProposalKeyword.room_id == bindparam("room_id"),
        ProposalKeyword.is_open.is_(True),
        ProposalKeyword.keyword.in_(bindparam("terms", expanding=True)),
    )
    .distinct()
    .order_by(ProposalKeyword.proposal_id.desc())
    .limit(bindparam("most"))
)
_CANDIDATE_ROWS = select(ProposalKeyword.proposal_id, ProposalKeyword.keyword, ProposalKeyword.weight).where(
    ProposalKeyword.proposal_id.in_(_SHARING)
)
_SUPPORTERS = (
    select(func.count()).where(ProposalSupporter.proposal_id == Proposal.id).correlate(Proposal).scalar_subquery()
)
_WINNERS = select(Proposal.id, Proposal.receipt, Proposal.description, _SUPPORTERS).where(
    Proposal.id.in_(bindparam("ids", expanding=True))
)


def reindex_all(session: Session, *, batch: int = 2_000) -> int:
    """Recompute every proposal's keywords and categories (`shangliang reindex`: all at once)."""
    done = 0
    last_id = 0
    while rows := session.execute(_TO_INDEX.where(Proposal.id > last_id).limit(batch)).all():
        _reindex(session, rows)
        done += len(rows)
        last_id = rows[-1].id
    return done


def reindex_stale(session: Session, *, batch: int) -> int:
    """Recompute up to `batch` proposals indexed under older rules than INDEX_RULES; how many it did."""
    rows = session.execute(_TO_INDEX.where(Proposal.index_version < INDEX_RULES).limit(batch)).all()
    if rows:
        _reindex(session, rows)
    return len(rows)


_TO_INDEX = select(Proposal.id, Proposal.room_id, Proposal.description, Proposal.status).order_by(Proposal.id)


def _reindex(session: Session, rows: Sequence[Row[int, int, str, str]]) -> None:
    room_ids = {r.room_id for r in rows}
    room_names = dict(session.execute(select(Room.id, Room.name).where(Room.id.in_(room_ids))).all())
    session.execute(delete(ProposalKeyword).where(ProposalKeyword.proposal_id.in_([r.id for r in rows])))
    keyword_rows: list[dict[str, object]] = []
    kept: list[dict[str, object]] = []
    for r in rows:
        index = indexed(r.description, room_names.get(r.room_id, ""))
        kept.append({"id": r.id, "tags": index.tags, "index_version": INDEX_RULES})
        keyword_rows.extend(
            {"proposal_id": r.id, "keyword": word, "room_id": r.room_id, "weight": weight,
             "is_open": r.status not in CLOSED}
            for word, weight in index.keywords
        )  # fmt: skip
    if keyword_rows:
        session.execute(insert(ProposalKeyword), keyword_rows)
    session.execute(update(Proposal), kept)  # ORM bulk UPDATE by primary key


def supporter_counts(session: Session, *, proposal_ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(ProposalSupporter.proposal_id, func.count())
        .where(ProposalSupporter.proposal_id.in_(proposal_ids))
        .group_by(ProposalSupporter.proposal_id)
    ).all()
    return {row[0]: row[1] for row in rows}


def support(session: Session, *, proposal_id: int, person_id: int, now: datetime) -> bool:
    """Add a supporter (附议). False when they already support it or proposed it."""
    proposal = session.get(Proposal, proposal_id)
    if proposal is None or proposal.proposer_id == person_id:
        return False
    exists = session.get(ProposalSupporter, (proposal_id, person_id))
    if exists is not None:
        return False
    session.add(ProposalSupporter(proposal_id=proposal_id, person_id=person_id, created_at=now))
    return True


def change_status(
    session: Session,
    *,
    proposal: Proposal,
    to: ProposalStatus,
    actor_id: int | None,
    reason: str | None,
    now: datetime,
) -> StatusChange:
    """Move a proposal along its lifecycle, recording who, when and why."""
    change = StatusChange(
        proposal_id=proposal.id,
        from_status=proposal.status,
        to_status=to,
        actor_id=actor_id,
        reason=reason,
        created_at=now,
    )
    proposal.status = to
    proposal.updated_at = now
    if proposal.first_answered_at is None and to in OFFICE_STATUSES:
        proposal.first_answered_at = now  # the response clock (bot/services/clocks.py) stops here
    session.add(change)
    session.execute(
        update(ProposalKeyword).where(ProposalKeyword.proposal_id == proposal.id).values(is_open=to not in CLOSED)
    )
    return change


def proposals_of(session: Session, *, person_id: int) -> list[Proposal]:
    """Proposals the person filed or supports, newest first."""
    supported = select(ProposalSupporter.proposal_id).where(ProposalSupporter.person_id == person_id)
    return list(
        session.scalars(
            select(Proposal)
            .where((Proposal.proposer_id == person_id) | Proposal.id.in_(supported))
            .order_by(Proposal.created_at.desc(), Proposal.id.desc())
        )
    )


# The changes the room makes (受理, 合并, 不予采纳, 审定, 列入协商, 反馈, 报上级, 退回): their reasons are its answers.
# 已评价 and a 没解决 that reopens an item carry the resident's own words, never shown as an answer.
OFFICE_STATUSES = frozenset(
    {
        ProposalStatus.accepted,
        ProposalStatus.merged,
        ProposalStatus.declined,
        ProposalStatus.approved,
        ProposalStatus.scheduled,
        ProposalStatus.consulted,
        ProposalStatus.answered,
        ProposalStatus.escalated,
        ProposalStatus.returned,
    }
)


def latest_answer(session: Session, *, proposal_id: int) -> StatusChange | None:
    """The room's latest answer with a reason (the resident's own rating or complaint is no answer)."""
    return session.scalars(
        select(StatusChange)
        .where(
            StatusChange.proposal_id == proposal_id,
            StatusChange.to_status.in_(OFFICE_STATUSES),
            StatusChange.reason.is_not(None),
            StatusChange.reason != "",
        )
        .order_by(StatusChange.created_at.desc(), StatusChange.id.desc())
        .limit(1)
    ).first()


def history(session: Session, *, proposal_id: int) -> list[StatusChange]:
    return list(
        session.scalars(
            select(StatusChange)
            .where(StatusChange.proposal_id == proposal_id)
            .order_by(StatusChange.created_at, StatusChange.id)
        )
    )


def by_receipt(session: Session, *, receipt: str) -> Proposal | None:
    return session.scalars(select(Proposal).where(Proposal.receipt == receipt)).first()


def is_related(session: Session, *, proposal: Proposal, person_id: int) -> bool:
    if proposal.proposer_id == person_id:
        return True
    return session.get(ProposalSupporter, (proposal.id, person_id)) is not None
