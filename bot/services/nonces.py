"""Used callback nonces, for plaintext mode, shared by every process through the database.

WeChat's plain signature is sha1(token, timestamp, nonce): it does not cover the body, and every
callback URL (safe mode too) carries one. Whoever sees an accepted URL could post any body on it
within the signature window. So each (timestamp, nonce) is taken by the first body that uses it;
WeChat's retries of that message reuse the pair with the very same body and pass (the pipeline
answers them from the stored reply); another body on it is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

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


def take(session: Session, pair: SignedPair, *, now: datetime) -> bool:
    """True when the pair is new, or was taken by this same body (a retry); False for another body.

    In the transaction of the message it carries: a refused or failed message leaves the pair free."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    taken = session.execute(
        insert(CallbackNonce)
        .values(
            channel=pair.channel, timestamp=pair.timestamp, nonce=pair.nonce, fingerprint=pair.body_hash, seen_at=now
        )
        .on_conflict_do_nothing(index_elements=["channel", "timestamp", "nonce"])
        .returning(CallbackNonce.id)
    ).first()
    if taken is not None:
        return True
    first = session.scalar(
        select(CallbackNonce.fingerprint).where(
            CallbackNonce.channel == pair.channel,
            CallbackNonce.timestamp == pair.timestamp,
            CallbackNonce.nonce == pair.nonce,
        )
    )
    return first == pair.body_hash


def keep_for(signature_max_age: int) -> timedelta:
    """How long a nonce must be remembered: its timestamp may be up to the window ahead of our clock."""
    return timedelta(seconds=2 * signature_max_age) if signature_max_age else KEEP_WITHOUT_WINDOW


def prune(session: Session, *, now: datetime, signature_max_age: int) -> int:
    """Forget nonces whose timestamps are stale by now (the freshness check refuses them anyway)."""
    cutoff = now - keep_for(signature_max_age)
    result = session.execute(delete(CallbackNonce).where(CallbackNonce.seen_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
