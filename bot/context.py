"""The one typed context handed to handlers and effects: who, what they sent, and the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.dialogs.engine import RoomRef, SimilarRef
from bot.incoming import Incoming
from bot.services import proposals, rooms
from bot.services.privacy import Sealer
from bot.settings import Settings
from bot.text import shorten
from storage.models import Person


@dataclass(frozen=True)
class Services:
    """Process-wide, stateless helpers shared by every request."""

    settings: Settings
    clock: Clock
    sealer: Sealer


@dataclass
class Ctx:
    session: Session
    person: Person
    msg: Incoming
    now: datetime
    services: Services

    @property
    def settings(self) -> Settings:
        return self.services.settings


class DbLookups:
    """The read-only queries dialog steps may make, answered from the database."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def rooms_matching(self, query: str) -> list[RoomRef]:
        return rooms.rooms_matching(self.session, query=query)

    def all_rooms(self, limit: int) -> list[RoomRef]:
        return rooms.all_rooms(self.session, limit=limit)

    def similar_proposals(self, room_id: int, text: str) -> list[SimilarRef]:
        return [
            SimilarRef(
                id=s.proposal.id,
                receipt=s.proposal.receipt or "",
                summary=shorten(s.proposal.description, 30),
                supporters=s.supporters,
            )
            for s in proposals.similar_open(self.session, room_id=room_id, text=text)
        ]
