"""Rooms: creation, the tree they form (village → town → district; enterprise and sector rooms under the
district's 政协办), and finding one by a rough name."""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from storage.db import SessionOrConnection, connection_of
from storage.models import Room, RoomLevel

LEVEL_NAMES = {
    RoomLevel.district: "区（县）政协",
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


# The level a room's parent must have. A district room is the root.
PARENT_LEVELS: dict[str, str | None] = {
    RoomLevel.district: None,
    RoomLevel.town: RoomLevel.district,
    RoomLevel.village: RoomLevel.town,
    RoomLevel.enterprise: RoomLevel.district,
    RoomLevel.sector: RoomLevel.district,
}


class TreeError(ValueError):
    """A parent the tree does not allow; the message is a sentence for the office."""


def parent_problem(session: Session, *, level: str, parent: Room | None, room_id: int | None = None) -> str | None:
    """Why `parent` cannot be the parent of a room of `level` (and id `room_id`), or None."""
    if parent is None:
        return None
    wanted = PARENT_LEVELS.get(level)
    if wanted is None:
        return f"{LEVEL_NAMES.get(RoomLevel(level), level)}是最上一级，没有上级议事室。"
    if parent.level != wanted:
        need = LEVEL_NAMES[RoomLevel(wanted)]
        return f"「{parent.name}」是{LEVEL_NAMES.get(RoomLevel(parent.level), parent.level)}，上级应是{need}的议事室。"
    if room_id is not None and room_id in {r.id for r in ancestors(session, parent)} | {parent.id}:
        return "上级不能是这个议事室自己或它的下级。"
    return None


def create_room(session: Session, *, name: str, level: RoomLevel, parent: Room | None = None) -> Room:
    problem = parent_problem(session, level=level, parent=parent)
    if problem:
        raise TreeError(problem)
    room = Room(name=name.strip(), level=level, parent_id=parent.id if parent else None)
    session.add(room)
    session.flush()
    return room


def ancestors(session: Session, room: Room) -> list[Room]:
    """The room's parent, its parent's parent, … up to the root (nearest first)."""
    found: list[Room] = []
    seen = {room.id}
    current = room
    while current.parent_id is not None and current.parent_id not in seen:
        parent = session.get(Room, current.parent_id)
        if parent is None:
            break
        found.append(parent)
        seen.add(parent.id)
        current = parent
    return found


def children(session: Session, *, room_id: int) -> list[Room]:
    return list(session.scalars(select(Room).where(Room.parent_id == room_id).order_by(Room.name)))


def name_of(source: SessionOrConnection, *, room_id: int) -> str:
    """A room's name ("" if there is no such room), as a plain value: no ORM object loaded."""
    return connection_of(source).execute(_NAME, {"room_id": room_id}).scalar() or ""


_NAME = select(Room.name).where(Room.id == bindparam("room_id"))


def all_rooms(source: SessionOrConnection, *, limit: int = 50) -> list[RoomRef]:
    """The first `limit` rooms, oldest first (the room step lists them on every 提议题 without one remembered)."""
    rows = connection_of(source).execute(_ALL, {"most": limit}).all()
    return [RoomRef(id=row.id, name=row.name) for row in rows]


_EVERY = select(Room.id, Room.name).order_by(Room.id)
_ALL = _EVERY.limit(bindparam("most"))


GENERIC = ("协商议事室", "议事室", "议事厅", "协商室")


def _core(name: str) -> str:
    """A room name without the generic words every room shares: 幸福社区议事室 -> 幸福社区."""
    for word in GENERIC:
        name = name.replace(word, "")
    return name.strip()


def rooms_matching(source: SessionOrConnection, *, query: str, limit: int = 5) -> list[RoomRef]:
    """Rooms whose name contains the query, else the closest names (typos, missing characters)."""
    query = query.strip()
    core = _core(query)
    if not core:
        return []
    rows = connection_of(source).execute(_EVERY).all()
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
