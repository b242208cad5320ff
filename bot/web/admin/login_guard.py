"""What keeps a login flood from taking the bot down (argon2 costs 64 MiB and a CPU for tens of
milliseconds; WeChat's callbacks share the process and must answer within 5 s).

- The limits themselves are counted in the database (`bot/services/login_throttle.py`), shared by
  every worker; this module only remembers, per process, which keys the database said are blocked
  and until when, so a flood from one address is answered without a database round trip.
- Each process runs at most LOGIN_CONCURRENCY logins at once. `LoginGateMiddleware`, the admin's
  outermost layer, answers a login beyond that (or from an address known to be blocked) 429 at once,
  before the session, the form or a template is touched: a refusal costs next to nothing.
- Passwords are checked in a pool of LOGIN_CONCURRENCY threads at the lowest CPU priority, so the
  callbacks get the processor first.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import datetime
from html import escape

from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.clock import Clock
from bot.services import login_throttle

LOGIN_CONCURRENCY = 2  # logins (database work and argon2) at once per process
TOO_MANY = "登录尝试过于频繁，请 {minutes} 分钟后再试。"
WRONG_TOO_OFTEN = "密码连续输错 {limit} 次，请 {minutes} 分钟后再试。"
BUSY = "登录的人较多，请稍后再试。"
BUSY_RETRY_SECONDS = 5
_PAGE = (
    '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>请稍后再试</title></head>'
    '<body><p>{message}</p><p><a href="login">返回登录</a></p></body></html>'
)


class LoginRefused(Exception):
    """An attempt refused before any password check; `message` is shown to the person (429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    @classmethod
    def until(cls, message: str, until: datetime, now: datetime, *, limit: int = 0) -> LoginRefused:
        seconds = max(1, math.ceil((until - now).total_seconds()))
        return cls(message.format(limit=limit, minutes=math.ceil(seconds / 60)), seconds)

    def page(self) -> HTMLResponse:
        headers = {"Retry-After": str(self.retry_after), "Cache-Control": "no-store"}
        return HTMLResponse(_PAGE.format(message=escape(self.message)), status_code=429, headers=headers)


def _lowest_priority() -> None:
    """A password-check thread runs at nice 19 (argon2's own threads inherit it): under a flood the checks
    take the CPU the callbacks leave instead of a fair share beside them (on 2 CPUs, two checks with
    argon2's four lanes each otherwise outnumber the web worker's threads four to one)."""
    with suppress(OSError, AttributeError):  # Linux sets it per thread; elsewhere leave it be
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


class _KnownBlocked:
    """Keys the database has said are blocked, until when. A cache of the shared counters, bounded."""

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


class LoginGuard:
    """One per process (per app): the login slots, the password-check pool and the blocked keys."""

    def __init__(self, secret: str, clock: Clock) -> None:
        self.keys = login_throttle.Keys(secret)
        self.clock = clock
        self.blocked = _KnownBlocked()
        self.checks = ThreadPoolExecutor(LOGIN_CONCURRENCY, "admin-password", initializer=_lowest_priority)
        self._slots = threading.BoundedSemaphore(LOGIN_CONCURRENCY)

    def enter(self) -> bool:
        """Take a login slot if one is free, never waiting."""
        return self._slots.acquire(blocking=False)

    def leave(self) -> None:
        self._slots.release()

    def address_refusal(self, address: str) -> LoginRefused | None:
        now = self.clock.now()
        until = self.blocked.until(self.keys.address(address), now)
        return LoginRefused.until(TOO_MANY, until, now) if until else None


class LoginGateMiddleware:
    """The admin app's outermost layer: a login POST gets a slot or an immediate 429."""

    def __init__(self, app: ASGIApp, guard: LoginGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or _route_path(scope) != "/login":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        refusal = self.guard.address_refusal(client[0] if client else "")
        if refusal is None and not self.guard.enter():
            refusal = LoginRefused(BUSY, BUSY_RETRY_SECONDS)
        if refusal is not None:
            await refusal.page()(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.guard.leave()


def _route_path(scope: Scope) -> str:
    """The path inside the admin app (/login), whether or not the mount kept its prefix in `path`."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
