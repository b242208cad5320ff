"""A moderated wall: what residents type reaches public surfaces only after a sensitive-word check.

The office keeps the words in the admin (`sensitive_words`). A new proposal or micro-suggestion whose
text contains one is *held*: the live page (and the room's public board) leave it out until a
convenor answers 公开 (shown) or 隐藏 (hidden); 隐藏 also takes back anything already shown. Nothing
is deleted: a hidden item stays in the records, the export and its author's 我的. Every public
surface filters with `visible(Model)` (SQL) or `is_visible(item)`.

Matching is one pass of a pyahocorasick automaton over the text folded as `normalize` folds it
(case, full width, spaces and punctuation: 「法 轮」 is 「法轮」). Workers are stateless, so the
automaton is cached per process under the list's version — (count, largest id, latest change), one
aggregate query — and rebuilt when the office edits the list.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import ahocorasick
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bot.text import normalize
from storage.models import Proposal, SensitiveWord, Suggestion

SHOWN, HELD, HIDDEN = "shown", "held", "hidden"
VISIBILITY_NAMES = {SHOWN: "已公开", HELD: "待审核", HIDDEN: "已隐藏"}

Item = Proposal | Suggestion


# --- the word list and its automaton ------------------------------------------------------------


@dataclass(frozen=True)
class _Matcher:
    version: tuple[int, int, str]
    automaton: ahocorasick.Automaton | None  # None: the list is empty


_cached: _Matcher | None = None
_lock = threading.Lock()


def build(words: Iterable[str]) -> ahocorasick.Automaton | None:
    """An automaton over the folded words (each maps to the word as the office wrote it); None if empty."""
    automaton = ahocorasick.Automaton()
    for word in words:
        key = normalize(word)
        if key:
            automaton.add_word(key, word.strip())
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton


_VERSION = select(func.count(SensitiveWord.id), func.max(SensitiveWord.id), func.max(SensitiveWord.updated_at))


def _version(session: Session) -> tuple[int, int, str]:
    """What the kept list is now, checked on every filing (another worker may have changed it). On the
    connection: nothing this transaction has pending can change the list, so no autoflush for it."""
    count, last_id, changed = session.connection().execute(_VERSION).one()
    return int(count or 0), int(last_id or 0), str(changed or "")


def _automaton(session: Session) -> ahocorasick.Automaton | None:
    global _cached
    version = _version(session)
    cached = _cached
    if cached is not None and cached.version == version:
        return cached.automaton
    with _lock:
        if _cached is None or _cached.version != version:
            words = session.scalars(select(SensitiveWord.word)).all()
            _cached = _Matcher(version, build(words))
        return _cached.automaton


def matches(session: Session, text: str) -> list[str]:
    """The kept words `text` contains, each once, in the order they occur."""
    automaton = _automaton(session)
    if automaton is None:
        return []
    found: list[str] = []
    for _end, word in automaton.iter(normalize(text)):
        if word not in found:
            found.append(word)
    return found


# --- what is shown, and deciding ----------------------------------------------------------------


def visible(model: type[Proposal] | type[Suggestion]) -> ColumnElement[bool]:
    """The filter every public surface (the live page, the board) adds to its query."""
    return model.visibility == SHOWN


def is_visible(item: Item) -> bool:
    return item.visibility == SHOWN


def find(session: Session, *, receipt: str) -> Item | None:
    """The proposal (YS-…) or micro-suggestion (WJ-…) with this receipt, row-locked."""
    if receipt.startswith("WJ"):
        return session.scalars(
            select(Suggestion).where(Suggestion.receipt == receipt).with_for_update(of=Suggestion)
        ).first()
    return session.scalars(select(Proposal).where(Proposal.receipt == receipt).with_for_update(of=Proposal)).first()


def decide(session: Session, *, item: Item, show: bool, person_id: int, now: datetime) -> str:
    """公开 (show) or 隐藏 (hide) it, who and when kept with it; returns the visibility it had."""
    before = item.visibility
    item.visibility = SHOWN if show else HIDDEN
    item.moderated_by_id = person_id
    item.moderated_at = now
    return before


def held(session: Session, *, room_ids: list[int], limit: int = 20) -> list[Item]:
    """The rooms' items waiting for 公开 / 隐藏, oldest first (micro-suggestions, then proposals)."""
    if not room_ids:
        return []
    notes = session.scalars(
        select(Suggestion)
        .where(Suggestion.room_id.in_(room_ids), Suggestion.visibility == HELD)
        .order_by(Suggestion.created_at, Suggestion.id)
        .limit(limit)
    ).all()
    filed = session.scalars(
        select(Proposal)
        .where(Proposal.room_id.in_(room_ids), Proposal.visibility == HELD)
        .order_by(Proposal.created_at, Proposal.id)
        .limit(limit)
    ).all()
    waiting: list[Item] = [*notes, *filed]
    return waiting[:limit]


def text_of(item: Item) -> str:
    return item.text if isinstance(item, Suggestion) else item.description
