"""Used callback nonces, for plaintext mode, shared by every process through the database.

WeChat's plain signature is sha1(token, timestamp, nonce): it does not cover the body, and every
callback URL (safe mode too) carries one. Whoever sees an accepted URL could post any body on it
within the signature window. So each (timestamp, nonce) is taken by the first body that uses it;
WeChat's retries of that message reuse the pair with the very same body and pass (the pipeline
answers them from the stored reply); another body on it is refused.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Insert, Table, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.db import SessionOrConnection, connection_of
from storage.models import CallbackNonce

MAX_NONCE_CHARS = 64
# SIGNATURE_MAX_AGE=0 accepts any timestamp: nonces are then kept as long as idempotency records.
KEEP_WITHOUT_WINDOW = timedelta(days=3)


def fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def usable(nonce: str) -> bool:
    """Nonces we can store: short printable ASCII, as WeChat sends (digits)."""
    return 0 < len(nonce) <= MAX_NONCE_CHARS and nonce.isascii() and nonce.isprintable() and " " not in nonce


@dataclass(frozen=True)
class SignedPair:
    """A callback URL's signed (timestamp, nonce) and the body it carried, to be taken together."""

    channel: str
    timestamp: int
    nonce: str
    body_hash: str  # `fingerprint(body)`


class NonceReused(Exception):
    """The pair was taken by another body: the request is refused (403) and nothing it asked is done."""


def take(source: SessionOrConnection, pair: SignedPair, *, now: datetime) -> bool:
    """True when the pair is new, or was taken by this same body (a retry); False for another body.

    In the transaction of the message it carries: a refused or failed message leaves the pair free."""
    connection = connection_of(source)
    params = {
        "channel": pair.channel,
        "timestamp": pair.timestamp,
        "nonce": pair.nonce,
        "fingerprint": pair.body_hash,
        "seen_at": now,
    }
    if connection.execute(_take(connection.dialect.name), params).first() is not None:
        return True
    return connection.execute(_FIRST, params).scalar() == pair.body_hash


@functools.cache
def _take(dialect: str) -> Insert:
    """The pair's row unless it is there already (returning its id when inserted); built once per dialect."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    columns = ("channel", "timestamp", "nonce", "fingerprint", "seen_at")
    return (
        insert(_nonces)
        .values({c: bindparam(c) for c in columns})
        .on_conflict_do_nothing(index_elements=["channel", "timestamp", "nonce"])
        .returning(_nonces.c.id)
    )


_nonces = cast(Table, CallbackNonce.__table__)
_FIRST = select(_nonces.c.fingerprint).where(
    _nonces.c.channel == bindparam("channel"),
    _nonces.c.timestamp == bindparam("timestamp"),
    _nonces.c.nonce == bindparam("nonce"),
)


def keep_for(signature_max_age: int) -> timedelta:
    """How long a nonce must be remembered: its timestamp may be up to the window ahead of our clock."""
    return timedelta(seconds=2 * signature_max_age) if signature_max_age else KEEP_WITHOUT_WINDOW


def prune(session: Session, *, now: datetime, signature_max_age: int) -> int:
    """Forget nonces whose timestamps are stale by now (the freshness check refuses them anyway)."""
    cutoff = now - keep_for(signature_max_age)
    result = session.execute(delete(CallbackNonce).where(CallbackNonce.seen_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
