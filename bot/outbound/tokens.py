"""access_token: one cache for every process of an app, refreshed by one process at a time.

WeChat invalidates the previous token five minutes after a new fetch and allows 2,000 fetches a
day, so processes must share the token instead of each fetching their own. The cache lives in the
database (`access_tokens`, row-locked while refreshing).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from storage.db import transaction
from storage.models import AccessToken

Fetch = Callable[[], tuple[str, int]]  # returns (token, expires_in seconds)
MARGIN = timedelta(minutes=5)


class TokenCache:
    def __init__(self, factory: sessionmaker[Session], clock: Clock) -> None:
        self.factory = factory
        self.clock = clock

    def get(self, app: str, fetch: Fetch, *, stale: str | None = None) -> str:
        """A valid token for `app`. `stale` names a token the API just refused: replace it."""
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
                return row.token
            token, expires_in = fetch()
            row.token = token
            row.expires_at = now + timedelta(seconds=expires_in)
            return token
