"""Rooms: creation and finding one by a rough name."""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Room, RoomLevel

LEVEL_NAMES = {
    RoomLevel.town: "镇/街道/园区",
    RoomLevel.village: "村/社区",
    RoomLevel.enterprise: "企事业单位",
    RoomLevel.sector: "界别",
}


@dataclass(frozen=True)
class RoomRef:
    """A room as a dialog shows it: id and name."""

    id: int
    name: str


def create_room(session: Session, *, name: str, level: RoomLevel) -> Room:
    room = Room(name=name.strip(), level=level)
    session.add(room)
    session.flush()
    return room


def all_rooms(session: Session, *, limit: int = 50) -> list[RoomRef]:
    rows = session.execute(select(Room.id, Room.name).order_by(Room.id).limit(limit)).all()
    return [RoomRef(id=row.id, name=row.name) for row in rows]


GENERIC = ("协商议事室", "议事室", "议事厅", "协商室")


def _core(name: str) -> str:
    """A room name without the generic words every room shares: 幸福社区议事室 -> 幸福社区."""
    for word in GENERIC:
        name = name.replace(word, "")
    return name.strip()


def rooms_matching(session: Session, *, query: str, limit: int = 5) -> list[RoomRef]:
    """Rooms whose name contains the query, else the closest names (typos, missing characters)."""
    query = query.strip()
    core = _core(query)
    if not core:
        return []
    rows = session.execute(select(Room.id, Room.name).order_by(Room.id)).all()
    exact = [RoomRef(row.id, row.name) for row in rows if row.name == query]
    if exact:
        return exact
    contains = [RoomRef(row.id, row.name) for row in rows if core in row.name]
    if contains:
        return contains[:limit]
    cores = {row.id: _core(row.name) for row in rows}
    scored = process.extract(core, cores, scorer=fuzz.ratio, limit=limit, score_cutoff=60)
    if not scored:
        return []
    best = scored[0][1]
    names = {row.id: row.name for row in rows}
    return [RoomRef(key, names[key]) for _core_name, score, key in scored if score >= best - 5]
