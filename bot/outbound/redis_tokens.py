"""The access_token cache in Redis, for deployments that set `REDIS_URL`.

The token is one key per app with a TTL (expiry minus the safety margin); the process that
refreshes holds `SET NX PX` on a lock key, so one process fetches while the others wait for the
new value. If Redis cannot be reached the database cache takes over, so sends go on (a warning is
logged once per outage; Redis is tried again after a short pause). While that lasts the two caches
can hold different tokens; the 5-minute overlap WeChat grants an old token and the refresh on
40001/42001 absorb it.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta

import redis

from bot.clock import Clock
from bot.outbound.tokens import MARGIN, Fetch, Memo, TokenCache

log = logging.getLogger(__name__)

LOCK_MS = 15_000  # a refresher that died releases the lock after this long
WAIT_SECONDS = 10.0  # how long a process waits for another one's refresh before fetching itself
POLL_SECONDS = 0.05
RETRY_REDIS_AFTER = 30.0  # seconds on the database cache before trying Redis again

# Delete the lock only if we still hold it (it may have lapsed and been taken by another process).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class RedisTokenCache:
    def __init__(self, url: str, fallback: TokenCache, clock: Clock, *, prefix: str = "shangliang:") -> None:
        self.client: redis.Redis = redis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=1.0, socket_timeout=2.0
        )
        self.fallback = fallback
        self.clock = clock
        self.prefix = prefix
        self.memo = Memo(clock)
        self._down_until = 0.0
        self._warned = False

    def close(self) -> None:
        self.client.close()

    def get(self, app: str, fetch: Fetch, *, stale: str | None = None) -> str:
        """A valid token for `app`. `stale` names a token the API just refused: replace it."""
        held = self.memo.get(app, stale)
        if held is not None:
            return held
        if time.monotonic() >= self._down_until:
            try:
                token, expires_at = self._shared(app, fetch, stale)
            except redis.RedisError as exc:
                self._down_until = time.monotonic() + RETRY_REDIS_AFTER
                if not self._warned:
                    log.warning("Redis token cache unreachable (%s); using the database cache", type(exc).__name__)
                    self._warned = True
            else:
                self._warned = False
                self.memo.put(app, token, expires_at)
                return token
        return self.fallback.get(app, fetch, stale=stale)

    def _shared(self, app: str, fetch: Fetch, stale: str | None) -> tuple[str, datetime]:
        key, lock = f"{self.prefix}token:{app}", f"{self.prefix}token-lock:{app}"
        found = self._read(key, stale)
        if found is not None:
            return found
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + WAIT_SECONDS
        while not self.client.set(lock, owner, nx=True, px=LOCK_MS):
            # Someone else is refreshing: wait for their token rather than fetching a second one.
            if time.monotonic() >= deadline:
                log.warning("token refresh for %s took over %ss elsewhere; fetching here", app, WAIT_SECONDS)
                return self._refresh(key, fetch)
            time.sleep(POLL_SECONDS)
            found = self._read(key, stale)
            if found is not None:
                return found
        try:
            found = self._read(key, stale)  # refreshed between our read and the lock
            return found if found is not None else self._refresh(key, fetch)
        finally:
            self.client.eval(_RELEASE, 1, lock, owner)

    def _read(self, key: str, stale: str | None) -> tuple[str, datetime] | None:
        pipe = self.client.pipeline()
        pipe.get(key)
        pipe.pttl(key)
        value, ttl_ms = pipe.execute()
        if not value or value == stale or int(ttl_ms) <= 0:
            return None
        return str(value), self.clock.now() + MARGIN + timedelta(milliseconds=int(ttl_ms))

    def _refresh(self, key: str, fetch: Fetch) -> tuple[str, datetime]:
        token, expires_in = fetch()
        ttl = timedelta(seconds=expires_in) - MARGIN
        if ttl.total_seconds() >= 1:
            self.client.set(key, token, px=int(ttl.total_seconds() * 1000))
        return token, self.clock.now() + timedelta(seconds=expires_in)
