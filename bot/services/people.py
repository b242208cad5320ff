"""People as the channels know them (openid / WeCom UserID), and their roles per room."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, inspect, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from bot.services.privacy import clean_phone
from bot.services.proposals import find_receipt
from bot.text import control_word, normalize
from storage.models import DialogState, Person, RoomRole


def get_or_create(session: Session, *, channel: str, external_id: str, simulated: bool = False) -> Person:
    """The person behind an openid, created on first contact; safe against concurrent first messages.

    Simulated and real people never meet: the simulator finds and creates only simulated people and a
    callback only real ones, even for the same id (a real WeCom UserID may well be `sim-zhang`).

    The row is locked for the rest of the transaction, so one person's messages are handled one at a
    time even when they reach different workers.
    """
    return get_or_create_with_dialog(session, channel=channel, external_id=external_id, simulated=simulated)[0]


# Built once: this runs for every message, and building the statement costs as much as running it.
# Parameter names unlike the columns': an UPDATE would take `channel=` as a value to SET.
_WHO = (
    Person.channel == bindparam("who_channel"),
    Person.external_id == bindparam("who_external_id"),
    Person.simulated == bindparam("who_simulated"),
)
_PERSON_WITH_DIALOG = (
    select(Person, DialogState)
    .outerjoin(DialogState, DialogState.person_id == Person.id)
    .where(*_WHO)
    .with_for_update(of=Person)
    .execution_options(populate_existing=True)
)
# PostgreSQL: the same, with `last_inbound_at` written by the statement that reads (and, by updating,
# locks) the person: one round trip where there were two. SQLite has no UPDATE inside a WITH.
_people = cast(Table, Person.__table__)
_stamped = (
    update(_people).where(*_WHO).values(last_inbound_at=bindparam("inbound_at")).returning(*_people.c).cte("stamped")
)
_STAMPED = aliased(Person, _stamped)
_STAMPED_PERSON_WITH_DIALOG = (
    select(_STAMPED, DialogState)
    .outerjoin(DialogState, DialogState.person_id == _STAMPED.id)
    .options(lazyload(_STAMPED.last_room))
    .execution_options(populate_existing=True)
)


def get_or_create_with_dialog(
    session: Session, *, channel: str, external_id: str, simulated: bool = False, inbound_at: datetime | None = None
) -> tuple[Person, DialogState | None]:
    """`get_or_create`, plus their dialog state (if any) loaded by the same query.

    `inbound_at`: the message counts as them writing to us (`record_inbound`); on PostgreSQL it is
    stamped by the same statement. The state lands in the session's identity map, so the dispatcher's
    `session.get` costs no second round trip, as long as the caller holds the returned object (the
    identity map is weak).
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    stamped = postgres and inbound_at is not None
    params = {"who_channel": channel, "who_external_id": external_id, "who_simulated": simulated}
    statement = _STAMPED_PERSON_WITH_DIALOG if stamped else _PERSON_WITH_DIALOG
    if stamped:
        params["inbound_at"] = inbound_at
    row = session.execute(statement, params).first()
    if row is None:
        # First contact: insert, tolerating a concurrent first message that inserted the same person.
        insert = pg_insert if postgres else sqlite_insert
        session.execute(
            insert(Person)
            .values(channel=channel, external_id=external_id, simulated=simulated, unsubscribed=False)
            .on_conflict_do_nothing(index_elements=["channel", "external_id", "simulated"])
        )
        row = session.execute(statement, params).one()
    person, state = row
    if inbound_at is not None and not stamped:
        record_inbound(session, person, now=inbound_at)
    return person, state


def touch_inbound(person: Person, *, now: datetime) -> None:
    """Remember when they last wrote: the 48-hour customer-service window starts here."""
    person.last_inbound_at = now


_TOUCH = update(Person).where(Person.id == bindparam("person_id")).values(last_inbound_at=bindparam("now"))


def record_inbound(session: Session, person: Person, *, now: datetime) -> None:
    """`touch_inbound` as one prepared UPDATE, for the per-message path: the loaded object is kept in
    step without the unit of work (a flush per message costs more than the statement itself)."""
    if inspect(person).modified:  # other pending changes: let the unit of work write them all
        touch_inbound(person, now=now)
        return
    session.connection().execute(_TOUCH, {"person_id": person.id, "now": now})
    set_committed_value(person, "last_inbound_at", now)


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
