"""Limits on admin login attempts, counted in the database so that every web worker shares them.

Each key counts attempts over a fixed window (WINDOW) from its first attempt; past its limit an attempt
is refused without a password check until the window ends. Keys are keyed hashes (HMAC with a key
derived from SECRET_KEY), so neither an address nor a typed name is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import LoginThrottle

WINDOW = timedelta(minutes=15)
ADDRESS_LIMIT = 20  # attempts from one address (any name): a flood or a sweep from one place
# Wrong passwords for one name from one address: the lock a typing office sees. A right one starts
# the count again. Per address, so nobody elsewhere can lock the office out with five guesses.
PAIR_LIMIT = 5
# Attempts at one name from anywhere: guessing one login from many places. Each address adds at most
# PAIR_LIMIT to it, so it takes ten addresses to lock a name for everyone.
NAME_LIMIT = 50


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    until: datetime  # when this key's window ends


class Keys:
    """The counter keys of an address and of a name."""

    def __init__(self, secret: str) -> None:
        self._secret = hashlib.sha256(("shangliang-login-throttle:" + secret).encode()).digest()

    def address(self, address: str) -> str:
        return "a:" + self._digest(_network(address))

    def name(self, username: str) -> str:
        return "n:" + self._digest(_name(username))

    def pair(self, address: str, username: str) -> str:
        return "p:" + self._digest(_network(address) + "\n" + _name(username))

    def _digest(self, value: str) -> str:
        return hmac.new(self._secret, value.encode(), hashlib.sha256).hexdigest()[:32]


def _name(username: str) -> str:
    return username.strip().casefold()


def _network(address: str) -> str:
    """An IPv6 client is counted by its /64 (one subscriber holds a whole /64); anything else as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def count(session: Session, key: str, *, limit: int, now: datetime) -> Verdict:
    """Count one attempt under `key` (one atomic statement); allowed while the window holds at most `limit`."""
    cutoff = now - WINDOW
    expired = LoginThrottle.window_start <= cutoff
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(LoginThrottle)
        .values(key=key, window_start=now, attempts=1)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.key],
            set_={
                "attempts": case((expired, 1), else_=LoginThrottle.attempts + 1),
                "window_start": case(
                    (expired, literal(now, LoginThrottle.window_start.type)), else_=LoginThrottle.window_start
                ),
            },
        )
        .returning(LoginThrottle.attempts, LoginThrottle.window_start)
    )
    attempts, start = session.execute(statement).one()
    if attempts == 1:  # a new window: forget the windows that have ended (the table stays small)
        session.execute(delete(LoginThrottle).where(expired))
    return Verdict(allowed=attempts <= limit, until=start + WINDOW)


def forget(session: Session, key: str) -> None:
    """Start `key`'s count afresh (a right password ends a run of wrong ones)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
