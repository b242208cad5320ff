"""Admin login: argon2-checked passwords and a session kept in the database, its token in a signed
cookie (itsdangerous, via Starlette); logging out deletes the session, so the cookie opens nothing after.

A login flood must not take the bot down (argon2 costs 64 MiB and a CPU for tens of milliseconds):
attempts are limited per address, per (name, address) and per name in the database
(`bot/services/login_throttle.py`, shared by every worker), and each process runs at most
LOGIN_CONCURRENCY logins at once, answering the rest 429 at once instead of queueing them. No
database connection is held while a password is checked.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from dataclasses import dataclass
from datetime import datetime

from sqladmin.authentication import AuthenticationBackend
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request

from bot.clock import Clock
from bot.services import admin_sessions, admin_users, login_throttle
from bot.settings import Settings

from .csrf import CSRFMiddleware

log = logging.getLogger(__name__)

LOGIN_CONCURRENCY = 2  # logins (database work and argon2) at once per process
MAX_FIELD_CHARS = 1024
TOO_MANY = "登录尝试过于频繁，请 {minutes} 分钟后再试。"
WRONG_TOO_OFTEN = "密码连续输错 {limit} 次，请 {minutes} 分钟后再试。"
BUSY = "登录的人较多，请稍后再试。"
BUSY_RETRY_SECONDS = 5


class LoginRefused(Exception):
    """An attempt refused before any password check; `message` is shown on the login page (429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


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
class _Limit:
    key: str
    limit: int
    message: str


@dataclass(frozen=True)
class _Outcome:
    token: str | None = None  # signed in: the new session's token
    blocked: tuple[_Limit, datetime] | None = None  # not tried: the limit reached, until when


class AdminAuth(AuthenticationBackend):
    def __init__(self, settings: Settings, engine: Engine, clock: Clock) -> None:
        # A key of its own, derived from SECRET_KEY: a leaked admin cookie key signs nothing else.
        secret = hashlib.sha256(("shangliang-admin:" + settings.secret_key.get_secret_value()).encode()).hexdigest()
        super().__init__(
            secret_key=secret,
            session_cookie="shangliang_admin",
            max_age=int(admin_sessions.SESSION_LENGTH.total_seconds()),
            path="/admin",
            same_site="lax",
            https_only=settings.env == "production",
        )
        # Inside the session middleware: the token is kept in the signed session.
        self.middlewares.append(Middleware(CSRFMiddleware, public_base_url=settings.public_base_url))
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
        address = request.client.host if request.client else ""
        # Checked in this order: a blocked address or (name, address) adds nothing to the name's count.
        limits = [
            _Limit(self._keys.address(address), login_throttle.ADDRESS_LIMIT, TOO_MANY),
            _Limit(self._keys.pair(address, username), login_throttle.PAIR_LIMIT, WRONG_TOO_OFTEN),
            _Limit(self._keys.name(username), login_throttle.NAME_LIMIT, TOO_MANY),
        ]
        now = self._clock.now()
        for limit in limits:
            if until := self._blocked.until(limit.key, now):
                raise _refusal(limit, until, now)
        if not self._slots.acquire(blocking=False):
            raise LoginRefused(BUSY, BUSY_RETRY_SECONDS)
        try:
            outcome = await run_in_threadpool(self._attempt, limits, username, password)
        finally:
            self._slots.release()
        if outcome.blocked is not None:
            limit, until = outcome.blocked
            self._blocked.add(limit.key, until, now)
            raise _refusal(limit, until, self._clock.now())
        if outcome.token is None:
            log.warning("admin login refused for a username of %d characters", len(username))
            return False
        request.session.clear()
        request.session["sid"] = outcome.token
        return True

    def _attempt(self, limits: list[_Limit], username: str, password: str) -> _Outcome:
        now = self._clock.now()
        with Session(self._engine) as session, session.begin():
            for limit in limits:
                verdict = login_throttle.count(session, limit.key, limit=limit.limit, now=now)
                if not verdict.allowed:
                    return _Outcome(blocked=(limit, verdict.until))
            login = admin_users.find_login(session, username=username)
        if not admin_users.password_matches(login, password):  # no connection held meanwhile
            return _Outcome()
        assert login is not None
        with Session(self._engine) as session, session.begin():
            login_throttle.forget(session, limits[1].key)  # the run of wrong passwords from here ends
            admin_users.renew_weak_hash(session, login, password=password)
            return _Outcome(token=admin_sessions.open_session(session, user_id=login.id, now=now))

    async def logout(self, request: Request) -> bool:
        token = request.session.get("sid")
        request.session.clear()
        if isinstance(token, str):
            await run_in_threadpool(self._close, token)
        return True

    def _close(self, token: str) -> None:
        with Session(self._engine) as session, session.begin():
            admin_sessions.close_session(session, token=token)

    async def authenticate(self, request: Request) -> bool:
        """Every admin request: the cookie's session must still be in the database (not logged out)."""
        token = request.session.get("sid")
        if not isinstance(token, str):
            return False
        user_id = await run_in_threadpool(self._user_of, token)
        request.state.admin_user_id = user_id
        return user_id is not None

    def _user_of(self, token: str) -> int | None:
        with Session(self._engine) as session:
            return admin_sessions.user_of(session, token=token, now=self._clock.now())

    async def get_user_id(self, request: Request) -> int | None:
        return getattr(request.state, "admin_user_id", None)  # found by `authenticate`, no second query


def _refusal(limit: _Limit, until: datetime, now: datetime) -> LoginRefused:
    seconds = max(1, math.ceil((until - now).total_seconds()))
    message = limit.message.format(limit=limit.limit, minutes=math.ceil(seconds / 60))
    return LoginRefused(message, seconds)
