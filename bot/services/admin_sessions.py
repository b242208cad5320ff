"""Signed-in admin browsers, kept in the database so that logging out ends a session for good.

The cookie carries a random token; the table keeps only its SHA-256, so a copy of the table opens
nothing. A session lasts SESSION_LENGTH; a new password ends every session of that login.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import AdminSession

SESSION_LENGTH = timedelta(hours=8)


def _row_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, *, user_id: int, now: datetime) -> str:
    """A new session for this login; returns the token for the cookie. Ended sessions are cleared away."""
    session.execute(delete(AdminSession).where(AdminSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(AdminSession(id=_row_id(token), user_id=user_id, created_at=now, expires_at=now + SESSION_LENGTH))
    return token


def user_of(session: Session, *, token: str, now: datetime) -> int | None:
    """The login a cookie's token belongs to, while its session lasts; else None."""
    return session.scalar(
        select(AdminSession.user_id).where(AdminSession.id == _row_id(token), AdminSession.expires_at > now)
    )


def close_session(session: Session, *, token: str) -> None:
    session.execute(delete(AdminSession).where(AdminSession.id == _row_id(token)))


def close_all(session: Session, *, user_id: int) -> None:
    """Every session of this login ends (its password changed)."""
    session.execute(delete(AdminSession).where(AdminSession.user_id == user_id))
