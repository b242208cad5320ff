"""The one typed context handed to handlers and effects: who, what they sent, and the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.incoming import Incoming
from bot.services import broadcasts, lists, people, proposals, review, rooms
from bot.services.photos import PhotoLinks
from bot.services.privacy import Sealer, mask_phones
from bot.services.proposals import SimilarRef
from bot.services.rooms import RoomRef
from bot.services.session_invitees import people_named, plan_invitees
from bot.settings import Settings
from bot.text import shorten
from storage.db import Work
from storage.models import Person


@dataclass(frozen=True)
class Services:
    """Process-wide, stateless helpers shared by every request."""

    settings: Settings
    clock: Clock
    sealer: Sealer


Data = dict[str, Any]


class Dialogs(Protocol):
    """How handlers and effects open a dialog (the conversation store, handed in by the dispatcher)."""

    def start(self, name: str, data: Data | None = None, note: str = "") -> list[str]: ...

    def shown(self, name: str) -> Data | None: ...

    def resume_latest(self) -> list[str] | None: ...

    def form_open(self) -> bool: ...  # a form is being filled in: a pushed question must not put it away


class _NoDialogs:
    def start(self, name: str, data: Data | None = None, note: str = "") -> list[str]:
        raise RuntimeError("no conversation store: dialogs start only inside dispatch")

    def shown(self, name: str) -> Data | None:
        return None

    def resume_latest(self) -> list[str] | None:
        return None

    def form_open(self) -> bool:
        return False


@dataclass
class Ctx:
    work: Work  # the message's transaction: `session` for ORM work, `connection` for prebuilt statements
    person_id: int
    msg: Incoming
    now: datetime
    services: Services
    dialogs: Dialogs = field(default_factory=_NoDialogs)
    # Where their proposals go, as read with them; `remember_room` keeps it true.
    last_room: RoomRef | None = None
    _person: Person | None = field(default=None, repr=False)

    @property
    def session(self) -> Session:
        """The ORM Session of the message's transaction, made on first use (a plain dialog step makes none)."""
        return self.work.session

    @property
    def connection(self) -> Connection:
        """The message's connection, for prebuilt Core statements (with the session's changes written)."""
        return self.work.connection

    @property
    def person(self) -> Person:
        """The person as an ORM object, loaded on first use: a dialog step needs only `person_id`, and
        the pipeline's read (which also locked their row) is plain columns, not ORM objects."""
        if self._person is None:
            person = self.session.get(Person, self.person_id)
            assert person is not None, "the pipeline read this person in this transaction"
            self._person = person
        return self._person

    def remember_room(self, room: RoomRef) -> None:
        """Send their next proposal to `room`: written when it changes, without loading the person."""
        if self._person is not None:
            self._person.last_room_id = room.id  # the loaded object is flushed; a Core write would be lost
        elif self.last_room is None or self.last_room.id != room.id:
            people.move_room(self.connection, person_id=self.person_id, room_id=room.id)
        self.last_room = room

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def photo_links(self) -> PhotoLinks:
        """Signed links to items' photo pages, for convenors."""
        return PhotoLinks(self.settings.public_base_url, self.settings.secret_key.get_secret_value())


class DbLookups:
    """The read-only queries dialog steps may make, answered from the database."""

    def __init__(self, work: Work, photo_links: PhotoLinks | None = None) -> None:
        self.work = work
        self.photo_links = photo_links

    @property
    def session(self) -> Session:
        return self.work.session

    def rooms_matching(self, query: str) -> list[RoomRef]:
        return rooms.rooms_matching(self.work.connection, query=query)

    def all_rooms(self, limit: int) -> list[RoomRef]:
        return rooms.all_rooms(self.work.connection, limit=limit)

    def similar_proposals(self, room_id: int, text: str, room_name: str | None = None) -> list[SimilarRef]:
        return [
            SimilarRef(
                id=s.id,
                receipt=s.receipt or "",
                summary=shorten(mask_phones(s.description), 30),  # another resident's text
                supporters=s.supporters,
            )
            for s in proposals.similar_open(self.work.connection, room_id=room_id, text=text, room_name=room_name)
        ]

    def session_invitees(self, room_id: int, scope: str, names: list[str]) -> Data:
        """Who a session would invite: counts, the named people found, the names nobody has."""
        found = people_named(self.session, names=names)
        extra_ids = [ids[0] for ids in found.values() if ids]
        plan = plan_invitees(self.session, room_id=room_id, scope=scope, extra_ids=extra_ids)
        return {
            "total": len(plan),
            "representatives": sum(1 for i in plan if i.role == "representative"),
            "extra_ids": extra_ids,
            "unknown": [name for name, ids in found.items() if not ids],
        }

    def proposal_item(self, receipt: str) -> Data | None:
        return review.item_by_receipt(self.session, receipt=receipt, links=self.photo_links)

    def broadcast_count(self, room_id: int, audience: str, ref: int | None, author_id: int) -> int:
        return broadcasts.count_recipients(
            self.session, room_id=room_id, audience=audience, ref=ref, author_id=author_id
        )

    def broadcast_proposal(self, room_id: int, receipt: str) -> SimilarRef | None:
        found = broadcasts.room_proposal(self.session, room_id=room_id, receipt=receipt)
        if found is None:
            return None
        supporters = proposals.supporter_counts(self.session, proposal_ids=[found.id]).get(found.id, 0)
        return SimilarRef(
            id=found.id, receipt=found.receipt, summary=shorten(found.description, 30), supporters=supporters
        )

    def list_entry(self, session_id: int, kind: str, text: str, today: str) -> Data:
        entry = lists.check_entry(
            self.session, session_id=session_id, kind=kind, text=text, today=date.fromisoformat(today)
        )
        return {"preview": entry.preview, "problems": entry.problems}

    def publish_preview(self, session_id: int) -> Data:
        plan = lists.plan_publish(self.session, session_id=session_id)
        return {"lines": plan.lines, "people": plan.people, "repeats": plan.repeats}
