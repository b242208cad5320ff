"""Web admin logins (政协办): argon2 password hashes, creation and verification."""

from __future__ import annotations

import re
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Login:
    id: int
    username: str
    password_hash: str
    locked: bool  # too many wrong passwords lately: even the right one is refused


def find_login(session: Session, *, username: str, now: datetime) -> Login | None:
    """The login of this name, or None. Read only: the password check runs outside any transaction."""
    user = session.scalar(select(AdminUser).where(AdminUser.username == username.strip()))
    if user is None:
        return None
    locked = user.locked_until is not None and now < user.locked_until
    return Login(user.id, user.username, user.password_hash, locked)


def password_matches(login: Login | None, password: str) -> bool:
    """One argon2 check, for a known name against its hash, for an unknown or locked one against a hash of
    the same strength: the answer takes as long either way, so it tells no name apart."""
    stored = login.password_hash if login is not None and not login.locked else _dummy_hash()
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    return login is not None and not login.locked


def record_success(session: Session, login: Login, *, password: str) -> Login:
    """The run of wrong passwords ends; a hash made with weaker parameters than today's is renewed."""
    user = session.get(AdminUser, login.id, with_for_update=True)
    if user is None:
        return login
    user.failed_logins, user.locked_until = 0, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return Login(user.id, user.username, user.password_hash, locked=False)


def record_failure(session: Session, login: Login, *, now: datetime) -> None:
    """MAX_FAILURES wrong passwords in a row lock the login for LOCKOUT (kept in the row, for every worker)."""
    user = session.get(AdminUser, login.id, with_for_update=True)
    if user is None or (user.locked_until is not None and now < user.locked_until):
        return
    user.failed_logins += 1
    if user.failed_logins >= MAX_FAILURES:
        user.failed_logins, user.locked_until = 0, now + LOCKOUT


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("shangliang-timing-equaliser")
