"""Admin login: argon2-checked passwords and a session kept in the database, its token in a signed
cookie (itsdangerous, via Starlette); logging out deletes the session, so the cookie opens nothing after.

Attempts are limited per address, per (name, address) and per name (`bot/services/login_throttle.py`,
counted in the database for every worker); how a flood is kept from the callbacks is in
`login_guard.py`. No database connection is held while a password is checked.
"""

from __future__ import annotations

import hashlib
import logging
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
from .login_guard import TOO_MANY, WRONG_TOO_OFTEN, LoginGateMiddleware, LoginGuard, LoginRefused

log = logging.getLogger(__name__)

MAX_FIELD_CHARS = 1024


@dataclass(frozen=True)
class _Limit:
    key: str
    limit: int
    message: str

    def refusal(self, until: datetime, now: datetime) -> LoginRefused:
        return LoginRefused.until(self.message, until, now, limit=self.limit)


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
        self._engine = engine
        self._clock = clock
        self._guard = LoginGuard(settings.secret_key.get_secret_value(), clock)
        # Outermost: a login beyond the slots is refused before anything else runs. Innermost: the CSRF
        # check, inside the session middleware, where the token is kept.
        self.middlewares.insert(0, Middleware(LoginGateMiddleware, guard=self._guard))
        self.middlewares.append(Middleware(CSRFMiddleware, public_base_url=settings.public_base_url))

    async def login(self, request: Request) -> bool:
        """True when signed in; False for a wrong name or password; LoginRefused when not even tried."""
        form = await request.form()
        username, password = str(form.get("username") or ""), str(form.get("password") or "")
        if not username or not password or len(username) > MAX_FIELD_CHARS or len(password) > MAX_FIELD_CHARS:
            return False
        address = request.client.host if request.client else ""
        keys = self._guard.keys
        # Checked in this order: a blocked address or (name, address) adds nothing to the name's count.
        limits = [
            _Limit(keys.address(address), login_throttle.ADDRESS_LIMIT, TOO_MANY),
            _Limit(keys.pair(address, username), login_throttle.PAIR_LIMIT, WRONG_TOO_OFTEN),
            _Limit(keys.name(username), login_throttle.NAME_LIMIT, TOO_MANY),
        ]
        now = self._clock.now()
        for limit in limits:
            if until := self._guard.blocked.until(limit.key, now):
                raise limit.refusal(until, now)
        # The gate middleware holds one of the process's login slots for this request.
        outcome = await run_in_threadpool(self._attempt, limits, username, password)
        if outcome.blocked is not None:
            limit, until = outcome.blocked
            self._guard.blocked.add(limit.key, until, now)
            raise limit.refusal(until, self._clock.now())
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
        # No connection held meanwhile; in the low-priority pool (never more checks than its threads).
        if not self._guard.checks.submit(admin_users.password_matches, login, password).result():
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
