"""access_token: one cache for every process of an app, refreshed by one process at a time.

WeChat invalidates the previous token five minutes after a new fetch and allows 2,000 fetches a
day, so processes must share the token instead of each fetching their own. The shared cache lives
in Redis when `REDIS_URL` is set (`bot/outbound/redis_tokens.py`) and in the database otherwise
(`access_tokens`, row-locked while refreshing).

Each cache also keeps the token in memory for up to a minute, so a send does not cost a database
or Redis round trip; a token the API refuses (40001/42001) is looked up in the shared cache again,
and fetched only if the shared cache still holds the refused one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from storage.db import transaction
from storage.models import AccessToken

Fetch = Callable[[], tuple[str, int]]  # returns (token, expires_in seconds)
MARGIN = timedelta(minutes=5)  # refresh this long before the token lapses
RECHECK = timedelta(minutes=1)  # how long a process trusts its in-memory copy


class Tokens(Protocol):
    def get(self, app: str, fetch: Fetch, *, stale: str | None = None) -> str:
        """A valid token for `app`. `stale` names a token the API just refused: replace it."""
        ...


class Memo:
    """The in-process copy of each app's token, valid until the earlier of expiry and RECHECK."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, datetime]] = {}

    def get(self, app: str, stale: str | None) -> str | None:
        with self._lock:
            held = self._tokens.get(app)
        if held is None or held[0] == stale or held[1] <= self.clock.now():
            return None
        return held[0]

    def put(self, app: str, token: str, expires_at: datetime) -> None:
        until = min(expires_at - MARGIN, self.clock.now() + RECHECK)
        with self._lock:
            self._tokens[app] = (token, until)


class TokenCache:
    """The database-backed shared cache."""

    def __init__(self, factory: sessionmaker[Session], clock: Clock) -> None:
        self.factory = factory
        self.clock = clock
        self.memo = Memo(clock)

    def get(self, app: str, fetch: Fetch, *, stale: str | None = None) -> str:
        """A valid token for `app`. `stale` names a token the API just refused: replace it."""
        held = self.memo.get(app, stale)
        if held is not None:
            return held
        token, expires_at = self.shared(app, fetch, stale=stale)
        self.memo.put(app, token, expires_at)
        return token

    def shared(self, app: str, fetch: Fetch, *, stale: str | None = None) -> tuple[str, datetime]:
        """The token and its expiry from the database row, fetched under the row lock if needed."""
        with transaction(self.factory) as session:
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            session.execute(
                insert(AccessToken)
                .values(app=app, token="", expires_at=self.clock.now())
                .on_conflict_do_nothing(index_elements=["app"])
            )
            # The row lock makes every other process wait here while one refreshes.
            row = session.scalars(
                select(AccessToken)
                .where(AccessToken.app == app)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one()
            now = self.clock.now()
            if row.token and row.token != stale and row.expires_at - MARGIN > now:
                return row.token, row.expires_at
            token, expires_in = fetch()
            row.token = token
            row.expires_at = now + timedelta(seconds=expires_in)
            return token, row.expires_at
