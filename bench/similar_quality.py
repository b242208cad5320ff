"""Quality of the similar-proposal step on the hand-labelled set `bench/similar_labelled.txt`.

Not a script: `bench/similar.py` runs it (`--quality-only` for this part alone). Every room's
proposals are filed through `proposals.file` into a fresh database, then every query goes
through `DbLookups.similar_proposals`, exactly what the 提议题 dialog's similar step calls.

Figures (a query "has a duplicate" when its line names one after `=>`):

* precision@1 — of the queries that have a duplicate, the share whose first suggestion is it;
* recall@3 — of the queries that have a duplicate, the share that see it among the (at most three)
  suggestions;
* hard negative first — of the queries that name hard negatives, the share whose first suggestion
  is one of them (target 0: a resident must never be offered 3号楼垃圾桶 for 3号楼路灯 first);
* hard negative shown — the same, anywhere among the suggestions;
* no duplicate, nothing offered — of the queries without a duplicate, the share with no suggestion.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bot.context import DbLookups
from bot.services import proposals
from storage.db import Work, make_engine, make_session_factory, transaction
from storage.models import Person, Room

LABELLED = Path(__file__).with_name("similar_labelled.txt")
QUERY = re.compile(r"^\?\s*(?P<text>.+?)\s*=>\s*(?P<dups>\S+)\s*(?:!\s*(?P<negs>.*))?$")
PROPOSAL = re.compile(r"^(?P<label>[a-z][\w-]*):\s*(?P<text>.+)$")


@dataclass
class Query:
    text: str
    duplicates: frozenset[str]
    hard_negatives: frozenset[str]
    line: int


@dataclass
class LabelledRoom:
    name: str
    split: str
    proposals: dict[str, str] = field(default_factory=dict)
    queries: list[Query] = field(default_factory=list)


def parse(path: Path = LABELLED) -> list[LabelledRoom]:
    """The rooms of the labelled file; a label that names no proposal of its room is an error."""
    rooms: list[LabelledRoom] = []
    split = "seen"
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("split:"):
            split = line.split(":", 1)[1].strip()
        elif line.startswith("room:"):
            rooms.append(LabelledRoom(line.split(":", 1)[1].strip(), split))
        elif match := QUERY.match(line):
            dups = frozenset() if match["dups"] == "-" else frozenset(match["dups"].split("|"))
            negs = frozenset((match["negs"] or "").split())
            rooms[-1].queries.append(Query(match["text"], dups, negs, number))
        elif match := PROPOSAL.match(line):
            rooms[-1].proposals[match["label"]] = match["text"]
        else:
            raise ValueError(f"{path.name}:{number}: unreadable line: {line}")
    for room in rooms:
        for query in room.queries:
            unknown = (query.duplicates | query.hard_negatives) - room.proposals.keys()
            if unknown:
                raise ValueError(f"{path.name}:{query.line}: no proposal {sorted(unknown)} in {room.name}")
    return rooms


@dataclass
class Tally:
    queries: int = 0
    with_duplicate: int = 0
    first_is_duplicate: int = 0
    duplicate_in_top3: int = 0
    with_hard_negatives: int = 0
    hard_negative_first: int = 0
    hard_negative_shown: int = 0
    without_duplicate: int = 0
    without_duplicate_nothing_offered: int = 0
    offered: int = 0
    pairs: int = 0

    def figures(self) -> dict[str, Any]:
        def share(part: int, whole: int) -> float | None:
            return round(part / whole, 3) if whole else None

        return {
            "queries": self.queries,
            "pairs": self.pairs,
            "precision_at_1": share(self.first_is_duplicate, self.with_duplicate),
            "recall_at_3": share(self.duplicate_in_top3, self.with_duplicate),
            "hard_negative_first": share(self.hard_negative_first, self.with_hard_negatives),
            "hard_negative_shown": share(self.hard_negative_shown, self.with_hard_negatives),
            "no_duplicate_nothing_offered": share(self.without_duplicate_nothing_offered, self.without_duplicate),
            "counts": {
                "with_duplicate": self.with_duplicate,
                "first_is_duplicate": self.first_is_duplicate,
                "duplicate_in_top3": self.duplicate_in_top3,
                "with_hard_negatives": self.with_hard_negatives,
                "hard_negative_first": self.hard_negative_first,
                "hard_negative_shown": self.hard_negative_shown,
                "without_duplicate": self.without_duplicate,
                "offered": self.offered,
            },
        }


def _count(tally: Tally, query: Query, offered: list[str]) -> None:
    tally.queries += 1
    tally.pairs += len(query.duplicates) + len(query.hard_negatives)
    tally.offered += bool(offered)
    first = offered[0] if offered else None
    if query.duplicates:
        tally.with_duplicate += 1
        tally.first_is_duplicate += first in query.duplicates
        tally.duplicate_in_top3 += bool(query.duplicates.intersection(offered[:3]))
    else:
        tally.without_duplicate += 1
        tally.without_duplicate_nothing_offered += not offered
    if query.hard_negatives:
        tally.with_hard_negatives += 1
        tally.hard_negative_first += first in query.hard_negatives
        tally.hard_negative_shown += bool(query.hard_negatives.intersection(offered))


def measure(url: str, rooms: list[LabelledRoom] | None = None) -> dict[str, Any]:
    """File the labelled proposals into the (fresh, migrated) database at `url`; run every query."""
    rooms = parse() if rooms is None else rooms
    engine = make_engine(url)
    factory = make_session_factory(engine)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    try:
        labels: dict[int, str] = {}
        room_ids: dict[str, int] = {}
        with transaction(factory) as session:
            session.execute(insert(Room), [{"name": r.name, "level": "village", "created_at": now} for r in rooms])
            session.execute(insert(Person), [{"channel": "wechat", "external_id": "o_labelled", "simulated": False}])
            person_id = session.scalar(select(Person.id))
            assert person_id is not None
            room_ids = {name: rid for rid, name in session.execute(select(Room.id, Room.name))}
            for room in rooms:
                for i, (label, text) in enumerate(room.proposals.items()):
                    filed = proposals.file(
                        session,
                        new=proposals.NewProposal(room_id=room_ids[room.name], proposer_id=person_id, description=text),
                        now=now - timedelta(minutes=len(room.proposals) - i),
                    )
                    labels[filed.id] = label
        tallies: dict[str, Tally] = defaultdict(Tally)
        misses: list[dict[str, Any]] = []
        for room in rooms:
            for query in room.queries:
                with factory() as session:
                    found = DbLookups(Work.of(session)).similar_proposals(room_ids[room.name], query.text)
                offered = [labels[s.id] for s in found]
                for key in ("all", room.split):
                    _count(tallies[key], query, offered)
                first = offered[0] if offered else None
                wrong = (query.duplicates and first not in query.duplicates) or (first in query.hard_negatives)
                if wrong:
                    misses.append(
                        {
                            "line": query.line,
                            "query": query.text,
                            "expected": sorted(query.duplicates) or "-",
                            "offered": offered,
                        }
                    )
        return {**{key: t.figures() for key, t in tallies.items()}, "misses": misses}
    finally:
        engine.dispose()


def report(figures: dict[str, Any], *, show_misses: bool = False) -> list[str]:
    def pct(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    lines = []
    for key in ("all", "seen", "unseen", "fresh"):
        f = figures.get(key)
        if not f:
            continue
        c = f["counts"]
        lines.append(
            f"  quality {key:<8} {f['queries']} queries, {f['pairs']} labelled pairs: "
            f"precision@1 {pct(f['precision_at_1'])} ({c['first_is_duplicate']}/{c['with_duplicate']}), "
            f"recall@3 {pct(f['recall_at_3'])} ({c['duplicate_in_top3']}/{c['with_duplicate']}), "
            f"hard negative first {pct(f['hard_negative_first'])} ({c['hard_negative_first']}/{c['with_hard_negatives']}),"
            f" shown {pct(f['hard_negative_shown'])}, no duplicate and nothing offered"
            f" {pct(f['no_duplicate_nothing_offered'])} (of {c['without_duplicate']})"
        )
    if show_misses:
        for miss in figures["misses"]:
            lines.append(
                f"    miss line {miss['line']}: {miss['query']} => {miss['expected']}; offered {miss['offered']}"
            )
    return lines
