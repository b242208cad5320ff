"""Rooms: creation and finding one by a rough name."""

from __future__ import annotations

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.dialogs.engine import RoomRef
from storage.models import Room, RoomLevel

LEVEL_NAMES = {
    RoomLevel.town: "镇/街道/园区",
    RoomLevel.village: "村/社区",
    RoomLevel.enterprise: "企事业单位",
    RoomLevel.sector: "界别",
}


def create_room(session: Session, *, name: str, level: RoomLevel) -> Room:
    room = Room(name=name.strip(), level=level)
    session.add(room)
    session.flush()
    return room


def all_rooms(session: Session, *, limit: int = 50) -> list[RoomRef]:
    rows = session.execute(select(Room.id, Room.name).order_by(Room.id).limit(limit)).all()
    return [RoomRef(id=row.id, name=row.name) for row in rows]


def rooms_matching(session: Session, *, query: str, limit: int = 5) -> list[RoomRef]:
    """Rooms whose name contains the query, else the closest names (typos, missing characters)."""
    query = query.strip()
    if not query:
        return []
    rows = session.execute(select(Room.id, Room.name)).all()
    names = {row.id: row.name for row in rows}
    exact = [RoomRef(i, n) for i, n in names.items() if n == query]
    if exact:
        return exact
    contains = [RoomRef(i, n) for i, n in names.items() if query in n]
    if contains:
        return contains[:limit]
    scored = process.extract(query, names, scorer=fuzz.partial_ratio, limit=limit, score_cutoff=60)
    if not scored:
        return []
    best = scored[0][1]
    return [RoomRef(key, name) for name, score, key in scored if score >= best - 5]
