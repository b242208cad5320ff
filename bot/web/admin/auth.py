"""Admin login: argon2-checked passwords and a signed session cookie (itsdangerous, via Starlette)."""

from __future__ import annotations

import hashlib
import logging

from sqladmin.authentication import AuthenticationBackend
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from bot.clock import Clock
from bot.services.admin_users import verify
from bot.settings import Settings
from storage.models import AdminUser

log = logging.getLogger(__name__)

SESSION_HOURS = 8


def _stamp(password_hash: str) -> str:
    """Changes with the password, so a new password ends the sessions signed in with the old one."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


class AdminAuth(AuthenticationBackend):
    def __init__(self, settings: Settings, engine: Engine, clock: Clock) -> None:
        # A key of its own, derived from SECRET_KEY: a leaked admin cookie key signs nothing else.
        secret = hashlib.sha256(("shangliang-admin:" + settings.secret_key.get_secret_value()).encode()).hexdigest()
        super().__init__(
            secret_key=secret,
            session_cookie="shangliang_admin",
            max_age=SESSION_HOURS * 3600,
            path="/admin",
            same_site="lax",
            https_only=settings.env == "production",
        )
        self._engine = engine
        self._clock = clock

    async def login(self, request: Request) -> bool:
        form = await request.form()
        username, password = str(form.get("username") or ""), str(form.get("password") or "")
        if not username or not password or len(password) > 1024:
            return False
        user = await run_in_threadpool(self._verify, username, password)
        if user is None:
            log.warning("admin login refused for a username of %d characters", len(username))
            return False
        request.session.clear()
        request.session.update({"user_id": user[0], "username": user[1], "stamp": user[2]})
        return True

    def _verify(self, username: str, password: str) -> tuple[int, str, str] | None:
        with Session(self._engine) as session, session.begin():
            user = verify(session, username=username, password=password, now=self._clock.now())
            return (user.id, user.username, _stamp(user.password_hash)) if user else None

    async def logout(self, request: Request) -> bool:
        request.session.clear()
        return True

    async def authenticate(self, request: Request) -> bool:
        user_id, stamp = request.session.get("user_id"), request.session.get("stamp")
        if not isinstance(user_id, int) or not isinstance(stamp, str):
            return False
        current = await run_in_threadpool(self._password_hash, user_id)
        return current is not None and _stamp(current) == stamp

    def _password_hash(self, user_id: int) -> str | None:
        with Session(self._engine) as session:
            return session.scalar(select(AdminUser.password_hash).where(AdminUser.id == user_id))
