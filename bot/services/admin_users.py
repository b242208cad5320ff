"""Web admin logins (政协办): argon2 password hashes, creation and verification.

How many attempts are allowed is `login_throttle`'s rule; sessions are `admin_sessions`'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import admin_sessions
from storage.models import AdminUser

_hasher = PasswordHasher()
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD = 8


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
    admin_sessions.close_all(session, user_id=user.id)  # whoever knew the old one is signed out
    return user


@dataclass(frozen=True)
class Login:
    id: int
    username: str
    password_hash: str


def find_login(session: Session, *, username: str) -> Login | None:
    """The login of this name, or None. Read only: the password check runs outside any transaction."""
    user = session.scalar(select(AdminUser).where(AdminUser.username == username.strip()))
    return Login(user.id, user.username, user.password_hash) if user is not None else None


def password_matches(login: Login | None, password: str) -> bool:
    """One argon2 check, for a known name against its hash, for an unknown one against a hash of the same
    strength: the answer takes as long either way, so it tells no name apart."""
    try:
        _hasher.verify(login.password_hash if login is not None else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return login is not None


def renew_weak_hash(session: Session, login: Login, *, password: str) -> None:
    """After a right password: a hash made with weaker parameters than today's is made again."""
    if _hasher.check_needs_rehash(login.password_hash):
        user = session.get(AdminUser, login.id)
        if user is not None:
            user.password_hash = hash_password(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("shangliang-timing-equaliser")
