"""Links that are their own credential: an HMAC of (purpose, id) with SECRET_KEY in the query.

Whoever holds the link may open it; ids alone (1, 2, 3, ...) open nothing. The purpose keeps keys
apart: a calendar link's key does not open the live page of the same session.
"""

from __future__ import annotations

import hashlib
import hmac


def sign(purpose: str, object_id: int, *, secret: str) -> str:
    """128 bits of HMAC-SHA256 over `purpose:id`, hex."""
    mac = hmac.new(secret.encode(), f"{purpose}:{object_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def verify(purpose: str, object_id: int, key: str | None, *, secret: str) -> bool:
    return bool(key) and hmac.compare_digest(sign(purpose, object_id, secret=secret), str(key))
