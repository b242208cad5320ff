"""Invite codes: the only way to a role other than resident. One-time, expiring."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from storage.models import Invite, Role

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed on a phone
CODE_LENGTH = 8
DEFAULT_VALIDITY = timedelta(days=7)


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def create_invite(
    session: Session,
    *,
    room_id: int,
    role: Role,
    now: datetime,
    created_by_id: int | None = None,
    validity: timedelta = DEFAULT_VALIDITY,
) -> Invite:
    invite = Invite(
        code=new_code(),
        room_id=room_id,
        role=role,
        created_by_id=created_by_id,
        expires_at=now + validity,
        created_at=now,
    )
    session.add(invite)
    session.flush()
    return invite
