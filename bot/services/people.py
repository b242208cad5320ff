"""People as the channels know them (openid / WeCom UserID), and their roles per room."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import Person, RoomRole


def get_or_create(session: Session, *, channel: str, external_id: str, simulated: bool = False) -> Person:
    """The person behind an openid, created on first contact; safe against concurrent first messages.

    The row is locked for the rest of the transaction, so one person's messages are handled one at a
    time even when they reach different workers.
    """
    query = (
        select(Person)
        .where(Person.channel == channel, Person.external_id == external_id)
        .with_for_update(of=Person)
        .execution_options(populate_existing=True)
    )
    person = session.scalars(query).first()
    if person is not None:
        return person
    # First contact: insert, tolerating a concurrent first message that inserted the same person.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(Person)
        .values(channel=channel, external_id=external_id, simulated=simulated, unsubscribed=False)
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
    )
    person = session.scalars(query).one()
    return person


def touch_inbound(person: Person, *, now: datetime) -> None:
    """Remember when they last wrote: the 48-hour customer-service window starts here."""
    person.last_inbound_at = now


def roles_of(session: Session, *, person_id: int) -> list[RoomRole]:
    return list(session.scalars(select(RoomRole).where(RoomRole.person_id == person_id)))
