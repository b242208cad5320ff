"""Admin login: argon2-checked passwords and a signed session cookie (itsdangerous, via Starlette).

A login flood must not take the bot down (argon2 costs 64 MiB and a CPU for tens of milliseconds):
attempts are limited per address and per name in the database (`bot/services/login_throttle.py`,
shared by every worker), and each process runs at most LOGIN_CONCURRENCY logins at once, answering
the rest 429 at once instead of queueing them. No database connection is held while a password is
checked.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from dataclasses import dataclass
from datetime import datetime

from sqladmin.authentication import AuthenticationBackend
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from bot.clock import Clock
from bot.services import admin_users, login_throttle
from bot.settings import Settings
from storage.models import AdminUser

log = logging.getLogger(__name__)

SESSION_HOURS = 8
LOGIN_CONCURRENCY = 2  # logins (database work and argon2) at once per process
MAX_FIELD_CHARS = 1024
TOO_MANY = "登录尝试过于频繁，请 {minutes} 分钟后再试。"
BUSY = "登录的人较多，请稍后再试。"
BUSY_RETRY_SECONDS = 5


class LoginRefused(Exception):
    """An attempt refused before any password check; `message` is shown on the login page (429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def _stamp(password_hash: str) -> str:
    """Changes with the password, so a new password ends the sessions signed in with the old one."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


class _KnownBlocked:
    """Keys the database has said are blocked, until when: a flood from one address is then answered
    without a database round trip. Only a cache of the shared counters, bounded in size."""

    MAX_KEYS = 4096

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def until(self, key: str, now: datetime) -> datetime | None:
        until = self._until.get(key)
        return until if until is not None and now < until else None

    def add(self, key: str, until: datetime, now: datetime) -> None:
        with self._lock:
            if len(self._until) >= self.MAX_KEYS:
                self._until = {k: u for k, u in self._until.items() if now < u}
                if len(self._until) >= self.MAX_KEYS:
                    self._until.clear()
            self._until[key] = until


@dataclass(frozen=True)
class _Outcome:
    login: admin_users.Login | None = None  # signed in as
    blocked: tuple[str, datetime] | None = None  # (key, until)


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
        self._keys = login_throttle.Keys(settings.secret_key.get_secret_value())
        self._slots = threading.BoundedSemaphore(LOGIN_CONCURRENCY)
        self._blocked = _KnownBlocked()

    async def login(self, request: Request) -> bool:
        """True when signed in; False for a wrong name or password; LoginRefused when not even tried."""
        form = await request.form()
        username, password = str(form.get("username") or ""), str(form.get("password") or "")
        if not username or not password or len(username) > MAX_FIELD_CHARS or len(password) > MAX_FIELD_CHARS:
            return False
        keys = [
            (self._keys.address(request.client.host if request.client else ""), login_throttle.ADDRESS_LIMIT),
            (self._keys.name(username), login_throttle.NAME_LIMIT),
        ]
        now = self._clock.now()
        for key, _limit in keys:
            if until := self._blocked.until(key, now):
                raise self._too_many(until, now)
        if not self._slots.acquire(blocking=False):
            raise LoginRefused(BUSY, BUSY_RETRY_SECONDS)
        try:
            outcome = await run_in_threadpool(self._attempt, keys, username, password)
        finally:
            self._slots.release()
        if outcome.blocked is not None:
            key, until = outcome.blocked
            self._blocked.add(key, until, now)
            raise self._too_many(until, self._clock.now())
        if outcome.login is None:
            log.warning("admin login refused for a username of %d characters", len(username))
            return False
        login = outcome.login
        request.session.clear()
        request.session.update({"user_id": login.id, "username": login.username, "stamp": _stamp(login.password_hash)})
        return True

    def _attempt(self, keys: list[tuple[str, int]], username: str, password: str) -> _Outcome:
        now = self._clock.now()
        with Session(self._engine) as session, session.begin():
            for key, limit in keys:
                verdict = login_throttle.count(session, key, limit=limit, now=now)
                if not verdict.allowed:
                    return _Outcome(blocked=(key, verdict.until))
            login = admin_users.find_login(session, username=username, now=now)
        matches = admin_users.password_matches(login, password)  # no connection held meanwhile
        if login is None:
            return _Outcome()
        with Session(self._engine) as session, session.begin():
            if not matches:
                admin_users.record_failure(session, login, now=now)
                return _Outcome()
            return _Outcome(login=admin_users.record_success(session, login, password=password))

    @staticmethod
    def _too_many(until: datetime, now: datetime) -> LoginRefused:
        seconds = max(1, math.ceil((until - now).total_seconds()))
        return LoginRefused(TOO_MANY.format(minutes=math.ceil(seconds / 60)), seconds)

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
