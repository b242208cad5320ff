"""Web admin logins (政协办): argon2 password hashes, creation and verification."""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AdminUser

_hasher = PasswordHasher()
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD = 8
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)


class AdminUserError(ValueError):
    """A username or password that cannot be used; the message is a Chinese sentence."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_admin(session: Session, *, username: str, password: str) -> AdminUser:
    """A new admin login; refuses a bad or taken username and a short password."""
    username = username.strip()
    if not USERNAME.match(username):
        raise AdminUserError("用户名只能用 2–64 个字母、数字或 _ . @ -。")
    if len(password) < MIN_PASSWORD:
        raise AdminUserError(f"密码至少 {MIN_PASSWORD} 位。")
    if session.scalar(select(AdminUser.id).where(AdminUser.username == username)) is not None:
        raise AdminUserError(f"用户名「{username}」已存在。")
    user = AdminUser(username=username, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, *, username: str, password: str) -> AdminUser:
    """A new password for an existing login."""
    user = session.scalar(select(AdminUser).where(AdminUser.username == username.strip()))
    if user is None:
        raise AdminUserError(f"没有用户名为「{username}」的管理员。")
    if len(password) < MIN_PASSWORD:
        raise AdminUserError(f"密码至少 {MIN_PASSWORD} 位。")
    user.password_hash = hash_password(password)
    return user


def verify(session: Session, *, username: str, password: str, now: datetime) -> AdminUser | None:
    """The admin whose username and password these are, or None (same answer for every mistake).

    MAX_FAILURES wrong passwords in a row lock the login for LOCKOUT, kept in the row so every web
    worker sees it; while locked even the right password is refused.
    """
    user = session.scalar(select(AdminUser).where(AdminUser.username == username.strip()).with_for_update())
    if user is None or (user.locked_until is not None and now < user.locked_until):
        _burn(password)
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.failed_logins, user.locked_until = 0, now + LOCKOUT
        return None
    user.failed_logins, user.locked_until = 0, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("shangliang-timing-equaliser")


def _burn(password: str) -> None:
    """Spend the time of a real check, so an unknown username is not told apart by timing."""
    with suppress(VerificationError):
        _hasher.verify(_dummy_hash(), password)
