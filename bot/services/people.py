"""People as the channels know them (openid / WeCom UserID), and their roles per room."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.services.privacy import clean_phone
from bot.services.proposals import find_receipt
from bot.services.rooms import RoomRef
from bot.text import control_word, normalize
from storage.db import SessionOrConnection, connection_of
from storage.models import DialogState, Person, Room, RoomRole

_people = cast(Table, Person.__table__)
_states = cast(Table, DialogState.__table__)
_rooms = cast(Table, Room.__table__)
# Parameter names unlike the columns': an UPDATE would take `channel=` as a value to SET.
_WHO = (
    _people.c.channel == bindparam("who_channel"),
    _people.c.external_id == bindparam("who_external_id"),
    _people.c.simulated == bindparam("who_simulated"),
)
_ONE = update(_people).where(_people.c.id == bindparam("person_id"))
STATE_COLUMNS = ("dialog", "state", "data", "history", "status", "updated_at", "expires_at", "drafts")


def _what_a_step_needs() -> list[ColumnElement[Any]]:
    """The person's id and remembered room, and their `dialog_states` row as scalar subqueries beside
    it: one statement, plain values, no ORM objects (loading those cost more than the whole read)."""
    room = select(_rooms.c.name).where(_rooms.c.id == _people.c.last_room_id).scalar_subquery()
    state = [
        select(_states.c[name]).where(_states.c.person_id == _people.c.id).scalar_subquery().label(f"state_{name}")
        for name in STATE_COLUMNS
    ]
    return [_people.c.id, _people.c.last_room_id, room.label("last_room_name"), *state]


# Built once: this runs for every message, and building a statement costs as much as running it.
_READ = select(*_what_a_step_needs()).where(*_WHO).with_for_update(of=_people)
# The same read, also stamping `last_inbound_at`: updating the row locks it as FOR UPDATE would.
_READ_STAMPED = (
    update(_people).where(*_WHO).values(last_inbound_at=bindparam("inbound_at")).returning(*_what_a_step_needs())
)


@dataclass(frozen=True)
class Arrival:
    """Who sent a message, as the pipeline reads them (their row locked for the transaction)."""

    person_id: int
    last_room: RoomRef | None
    state: dict[str, Any] | None  # their `dialog_states` row (STATE_COLUMNS), None before their first dialog


def arrive(
    source: SessionOrConnection,
    *,
    channel: str,
    external_id: str,
    simulated: bool = False,
    inbound_at: datetime | None = None,
) -> Arrival:
    """The person behind a message, created on first contact, with their dialog state; one statement.

    `inbound_at`: the message counts as them writing to us, which opens the 48-hour customer-service
    window (`last_inbound_at`): the same statement stamps it (UPDATE … RETURNING; a SQLite older than
    3.35 reads and stamps in two).
    """
    params: dict[str, Any] = {"who_channel": channel, "who_external_id": external_id, "who_simulated": simulated}
    connection = connection_of(source)
    stamped = inbound_at is not None and connection.dialect.update_returning
    if stamped:
        params["inbound_at"] = inbound_at
    statement = _READ_STAMPED if stamped else _READ
    row = connection.execute(statement, params).first()
    if row is None:
        _insert(connection, channel=channel, external_id=external_id, simulated=simulated)
        row = connection.execute(statement, params).one()
    if inbound_at is not None and not stamped:
        connection.execute(_TOUCH, {"person_id": row.id, "now": inbound_at})
    values = row._mapping
    state = {name: values[f"state_{name}"] for name in STATE_COLUMNS} if values["state_status"] is not None else None
    room = RoomRef(row.last_room_id, row.last_room_name) if row.last_room_id is not None else None
    return Arrival(person_id=row.id, last_room=room, state=state)


def get_or_create(session: Session, *, channel: str, external_id: str, simulated: bool = False) -> Person:
    """The person behind an openid, created on first contact; safe against concurrent first messages.

    Simulated and real people never meet: the simulator finds and creates only simulated people and a
    callback only real ones, even for the same id (a real WeCom UserID may well be `sim-zhang`).

    The row is locked for the rest of the transaction, so one person's messages are handled one at a
    time even when they reach different workers.
    """
    found = arrive(session, channel=channel, external_id=external_id, simulated=simulated)
    person = session.get(Person, found.person_id, populate_existing=True)
    assert person is not None  # `arrive` found or made the row, locked, in this transaction
    return person


def _insert(connection: Connection, *, channel: str, external_id: str, simulated: bool) -> None:
    """First contact: insert, tolerating a concurrent first message that inserted the same person."""
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    connection.execute(
        insert(_people)
        .values(channel=channel, external_id=external_id, simulated=simulated, unsubscribed=False)
        .on_conflict_do_nothing(index_elements=["channel", "external_id", "simulated"])
    )


def move_room(source: SessionOrConnection, *, person_id: int, room_id: int) -> None:
    """Where this person's next proposal goes (their remembered room), without loading them."""
    connection_of(source).execute(_MOVE, {"person_id": person_id, "room_id": room_id})


_MOVE = _ONE.values(last_room_id=bindparam("room_id"))


def touch_inbound(person: Person, *, now: datetime) -> None:
    """Remember when they last wrote: the 48-hour customer-service window starts here."""
    person.last_inbound_at = now


# A SQLite older than 3.35 (no RETURNING): the stamp after the read.
_TOUCH = _ONE.values(last_inbound_at=bindparam("now"))


def roles_of(session: Session, *, person_id: int) -> list[RoomRole]:
    return list(session.scalars(select(RoomRole).where(RoomRole.person_id == person_id)))


NAME_MAX = 20
NOT_NAMES = frozenset({"你好", "您好", "在吗", "谢谢", "收到", "嗯嗯", "哈哈", "不知道", "hello", "hi"})


def name_problem(name: str) -> str | None:
    """Why `name` cannot be how someone is called (a number, a phone, too long), or None."""
    text = name.strip()
    if not text:
        return "名字不能是空的。"
    if len(text) > NAME_MAX:
        return f"名字最多 {NAME_MAX} 个字。"
    if control_word(text) is not None or normalize(text) in NOT_NAMES:
        return "这不像名字。"
    if clean_phone(text) is not None or text.isdigit():
        return "这像是号码，不像名字。"
    if find_receipt(text) is not None:
        return "这像是编号，不像名字。"
    return None


def set_name(person: Person, name: str) -> None:
    person.display_name = name.strip()[:NAME_MAX]
