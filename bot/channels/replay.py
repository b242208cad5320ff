"""Plaintext mode's replay guard: a signed (timestamp, nonce) carries one body, once per body.

The plain signature does not cover the body (bot/services/nonces.py says why that matters), so
before a plaintext-mode callback is handled its pair is taken in the database, which every web
process shares. The same request again (WeChat's retry) passes and is answered from the stored
reply; another body on a taken pair gets 403.
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
from storage.db import transaction

log = logging.getLogger(__name__)


async def refuse_reused_nonce(rt: Runtime, *, channel: str, timestamp: str, nonce: str, body: bytes) -> None:
    """403 when the pair already carried another body; 503 while the database is away (WeChat retries)."""
    if not nonces.usable(nonce):
        raise HTTPException(status_code=400, detail="bad nonce")
    try:
        fresh = await run_in_threadpool(_take, rt, channel, int(timestamp), nonce, nonces.fingerprint(body))
    except (DBAPIError, PoolTimeout) as exc:
        log.warning("database unavailable while checking a callback nonce (%s)", type(exc).__name__)
        raise HTTPException(status_code=503, detail="database unavailable") from None
    if not fresh:
        REFUSED.labels(channel, "reused_nonce").inc()
        raise HTTPException(status_code=403, detail="nonce already used")


def _take(rt: Runtime, channel: str, timestamp: int, nonce: str, body_hash: str) -> bool:
    with transaction(rt.factory) as session:
        return nonces.take(
            session, channel=channel, timestamp=timestamp, nonce=nonce, body_hash=body_hash, now=rt.clock.now()
        )
