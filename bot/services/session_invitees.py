"""Who a session invites: the room's members and/or representatives by scope, named guests, and the
warnings a convenor sees before confirming (SPEC §1)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services.rsvp import display_name
from storage.models import Person, Role, RoomRole, SessionInvitee

SCOPES = ("all", "members", "representatives")
SCOPE_NAMES = {"all": "本室全部委员和代表", "members": "只选委员", "representatives": "只选代表"}
MIN_INVITED = 10  # SPEC §1: a session of at least 10 people, at least one third representatives


@dataclass(frozen=True)
class Invitee:
    person_id: int
    role: str  # member | representative | guest


def plan_invitees(session: Session, *, room_id: int, scope: str, extra_ids: Iterable[int] = ()) -> list[Invitee]:
    """The room's members and/or representatives (by scope), plus named people as guests."""
    wanted = {"all": (Role.member, Role.representative), "members": (Role.member,)}.get(scope, (Role.representative,))
    rows = session.execute(
        select(RoomRole.person_id, RoomRole.role).where(RoomRole.room_id == room_id, RoomRole.role.in_(wanted))
    ).all()
    roles: dict[int, str] = {}
    for person_id, role in sorted(rows):
        # Someone both member and representative is counted once, as a member.
        if roles.get(person_id) != Role.member:
            roles[person_id] = role
    for person_id in extra_ids:
        roles.setdefault(person_id, "guest")
    return [Invitee(pid, role) for pid, role in sorted(roles.items())]


def warnings(*, total: int, representatives: int) -> list[str]:
    """What the convenor is told before confirming (SPEC §1: ≥ 10 people, ≥ 1/3 representatives)."""
    found: list[str] = []
    if total < MIN_INVITED:
        found.append(
            f"受邀只有 {total} 人，少于 {MIN_INVITED} 人（协商活动一般不少于 {MIN_INVITED} 人，20 人左右为宜）。"
        )
    if total and representatives * 3 < total:
        found.append(f"群众代表 {representatives} 人，不到受邀人数的三分之一（应不少于 {-(-total // 3)} 人）。")
    return found


def people_named(session: Session, *, names: Iterable[str]) -> dict[str, list[int]]:
    """Each name typed -> the people whose display name it is (empty when nobody has it)."""
    found: dict[str, list[int]] = {}
    for name in names:
        ids = session.scalars(select(Person.id).where(Person.display_name == name).order_by(Person.id)).all()
        found[name] = list(ids)
    return found


def invitee_names(session: Session, *, session_id: int) -> dict[int, str]:
    """Person id -> the name 出席情况 shows, for each invitee of the session."""
    rows = session.scalars(
        select(Person)
        .join(SessionInvitee, SessionInvitee.person_id == Person.id)
        .where(SessionInvitee.session_id == session_id)
    ).all()
    return {p.id: display_name(p) for p in rows}


def invitees_of(session: Session, *, session_id: int) -> list[SessionInvitee]:
    return list(
        session.scalars(
            select(SessionInvitee).where(SessionInvitee.session_id == session_id).order_by(SessionInvitee.person_id)
        )
    )
