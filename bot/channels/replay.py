"""Plaintext mode's replay guard: a signed (timestamp, nonce) carries one body, once per body.

The plain signature does not cover the body (bot/services/nonces.py says why that matters), so a
plaintext-mode callback's pair is taken in the database, which every web process shares, in the
same transaction as the message it carries (`Pipeline.handle`). The same request again (WeChat's
retry) passes and is answered from the stored reply; another body on a taken pair gets 403.
"""

from __future__ import annotations

import logging

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from bot.metrics import REFUSED
from bot.runtime import Runtime
from bot.services import nonces
from bot.services.nonces import SignedPair
from storage.db import transaction

log = logging.getLogger(__name__)


def signed_pair(*, channel: str, timestamp: str, nonce: str, body: bytes) -> SignedPair:
    """The pair to take with this body; 400 for a nonce no real WeChat server sends (it could not be stored)."""
    if not nonces.usable(nonce):
        raise HTTPException(status_code=400, detail="bad nonce")
    return SignedPair(channel=channel, timestamp=int(timestamp), nonce=nonce, body_hash=nonces.fingerprint(body))


def reused(channel: str) -> HTTPException:
    """The answer to a pair another body took (counted in `shangliang_callbacks_refused_total`)."""
    REFUSED.labels(channel, "reused_nonce").inc()
    return HTTPException(status_code=403, detail="nonce already used")


async def refuse_reused_nonce(rt: Runtime, *, channel: str, timestamp: str, nonce: str, body: bytes) -> None:
    """For a request that carries no message (the URL check): the pair taken on its own.
    403 when it already carried another body; 503 while the database is away (WeChat retries)."""
    pair = signed_pair(channel=channel, timestamp=timestamp, nonce=nonce, body=body)
    try:
        fresh = await run_in_threadpool(_take, rt, pair)
    except (DBAPIError, PoolTimeout) as exc:
        log.warning("database unavailable while checking a callback nonce (%s)", type(exc).__name__)
        raise HTTPException(status_code=503, detail="database unavailable") from None
    if not fresh:
        raise reused(channel)


def _take(rt: Runtime, pair: SignedPair) -> bool:
    with transaction(rt.factory) as session:
        return nonces.take(session, pair, now=rt.clock.now())
