"""One message, one transaction: find and lock the person, dispatch, store the claim with the reply.

The claim row (unique per channel and message) and every change the message causes commit together.
A duplicate delivery — WeChat retries, or the same message arriving three times at once — waits on
the person's row lock (PostgreSQL) or the write lock (SQLite) until the first commits; its own claim
then violates the unique key, its transaction (and whatever it did) rolls back, and it returns the
very same reply the first one stored. The claim is written last, in one statement with the reply,
so a message costs one INSERT for it instead of an INSERT, a flush and an UPDATE.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Connection, Engine, Insert, Table, Update, bindparam, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from bot.context import Ctx, Services
from bot.dispatch import dispatch
from bot.incoming import Incoming
from bot.metrics import HANDLE_SECONDS, MESSAGES
from bot.services import media, nonces, outbox, people
from bot.services.nonces import NonceReused, SignedPair
from bot.services.privacy import mask_id
from bot.text import split_reply
from storage.db import Work, sqlite_busy_timeout, transaction, work
from storage.models import ProcessedMessage

log = logging.getLogger(__name__)

_MESSAGES = cast(Table, ProcessedMessage.__table__)
_CLAIMED = ("channel", "dedup_key", "person_id", "reply", "delivered_async", "created_at")
# The claim, its parameters named `claim_<column>`: unlike any dialog-state column, so it can carry the
# state's UPDATE in the same statement (`_claim_after`) without either reading the other's values.
_CLAIM = insert(_MESSAGES).values({c: bindparam(f"claim_{c}", type_=_MESSAGES.c[c].type) for c in _CLAIMED})
# PostgreSQL: every statement and lock wait of a message ends within 3 s, under the 4 s reply deadline, so a
# hung database or a row lock held elsewhere becomes an error inside WeChat's 5 s (answered 503, and WeChat
# retries) instead of a `success` for a message that may then fail unseen. The pipeline's engine sets it on
# its own connections when they open (bot/app.py): migrations, pages and outbox batches are not bound by it.
STATEMENT_TIMEOUT_MS = 3000
# A message handled on the event loop (SQLite) waits at most this long for a writer outside this
# process's lock (the embedded scheduler, `shangliang worker`) before it goes to the pipeline thread.
INLINE_BUSY_TIMEOUT_MS = 20
NO_REPLY = ""
ERROR_REPLY = "抱歉，系统刚才开了个小差，您的消息没有处理成功，请稍后再发一次。"


@dataclass(frozen=True)
class Outcome:
    reply: str  # "" means no passive reply
    duplicate: bool = False
    delivered_async: bool = False


class Pipeline:
    def __init__(self, factory: sessionmaker[Session], services: Services) -> None:
        self.factory = factory
        self.services = services
        self._writer_lock = _sqlite_writer_lock(factory)
        # SQLite: this process's messages run one at a time, under the writer lock, so they share one
        # connection kept between them (a checkout from the pool and back cost a tenth of a plain step).
        self._kept = _KeptConnection(factory.kw["bind"]) if isinstance(self._writer_lock, _FileLock) else None

    def handle(self, msg: Incoming, pair: SignedPair | None = None) -> Outcome:
        """Process a message exactly once and return the reply it gets (every time it is asked).

        `pair` (plaintext mode's replay guard): the URL's signed pair, taken in the message's own
        transaction; `NonceReused` when another body took it, and then nothing is done."""
        with self._writer_lock():
            outcome = self._handle(msg, pair, at_once=False)
        assert outcome is not None
        return outcome

    def handle_now(self, msg: Incoming, pair: SignedPair | None = None) -> Outcome | None:
        """`handle`, but only if no other writer holds SQLite now (None: it is busy, call `handle`).

        For the event loop: a SQLite transaction of a few statements takes well under a millisecond of
        waiting, so it is cheaper to run it here than to hand it to a thread; waiting for the writer lock
        is what must never happen here.
        """
        with self._writer_lock.attempt() as got:
            if not got:
                return None
            with sqlite_busy_timeout(INLINE_BUSY_TIMEOUT_MS):
                return self._handle(msg, pair, at_once=True)

    def _handle(self, msg: Incoming, pair: SignedPair | None, *, at_once: bool) -> Outcome | None:
        started = time.perf_counter()
        try:
            with self._work(at_once=at_once) as unit:
                reply = self._dispatch(unit, msg, pair)
        except _Busy:
            return None
        except NonceReused:
            raise
        except IntegrityError:
            MESSAGES.labels(msg.channel, msg.kind, "duplicate").inc()
            return self._previous(msg)
        except (DBAPIError, PoolTimeout):
            raise  # the database is in trouble: no second query now (the runner answers 503)
        except Exception:
            # A duplicate may fail differently than by the claim (its dialog moved on meanwhile):
            # it still gets the first delivery's reply. A message never handled re-raises.
            previous = self._find_previous(msg)
            if previous is None:
                raise
            MESSAGES.labels(msg.channel, msg.kind, "duplicate").inc()
            return previous
        elapsed = time.perf_counter() - started
        MESSAGES.labels(msg.channel, msg.kind, "handled").inc()
        HANDLE_SECONDS.labels(msg.channel).observe(elapsed)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("handled %s from %s in %.1f ms", msg.kind, mask_id(msg.user), elapsed * 1000)
        return Outcome(reply)

    @contextmanager
    def _work(self, *, at_once: bool) -> Iterator[Work]:
        """The message's transaction; `at_once` (the event loop): `_Busy` at once if SQLite's file is
        taken, since BEGIN IMMEDIATE takes the write lock or fails with "database is locked"."""
        kept = self._kept.get() if self._kept is not None else None
        try:
            with ExitStack() as stack:
                try:
                    unit = stack.enter_context(work(self.factory, kept))
                except OperationalError:
                    if at_once:
                        raise _Busy from None
                    raise
                yield unit
        except BaseException:
            if self._kept is not None:
                self._kept.drop()  # whatever state an error left it in (a failed COMMIT, a disconnect): a fresh one
            raise

    def close(self) -> None:
        """Give back the connection kept for messages (SQLite)."""
        if self._kept is not None:
            with self._writer_lock():
                self._kept.drop()

    def _dispatch(self, unit: Work, msg: Incoming, pair: SignedPair | None) -> str:
        now = self.services.clock.now()
        connection = unit.connection
        if pair is not None and not nonces.take(connection, pair, now=now):
            raise NonceReused
        who = people.arrive(
            connection,
            channel=msg.channel,
            external_id=msg.user,
            simulated=msg.simulated,
            inbound_at=now if _writes_to_us(msg) else None,
        )
        ctx = Ctx(unit, who.person_id, msg, now, self.services, last_room=who.last_room)
        replies, state = dispatch(ctx, who.state)
        if msg.kind == "image" and msg.media_id and not msg.simulated:
            # WeChat keeps it three days: queued now, fetched by the background worker (scheduler/media.py).
            media.keep(unit.session, channel=msg.channel, media_id=msg.media_id, now=now)
        reply, *more = split_reply("\n\n".join(r for r in replies if r))
        for n, part in enumerate(more, 1):
            # Past WeChat's size a passive reply would be dropped unseen: the rest follows as messages.
            key = f"more:{msg.channel}:{msg.dedup_key[:160]}:{n}"
            outbox.enqueue_text(unit.session, person_id=who.person_id, text=part, key=key, now=now)
        claim = {
            "claim_channel": msg.channel,
            "claim_dedup_key": msg.dedup_key[:200],
            "claim_person_id": who.person_id,
            "claim_reply": reply,
            "claim_delivered_async": False,
            "claim_created_at": now,
        }
        # Prepared Core statements on the connection (no ORM unit of work): the claim is never read back here.
        connection = unit.connection
        if state is not None and isinstance(state.statement, Update) and connection.dialect.name == "postgresql":
            connection.execute(_claim_after(state.statement), {**state.params, **claim})  # one round trip
        else:
            if state is not None:
                connection.execute(state.statement, state.params)
            connection.execute(_CLAIM, claim)
        return reply

    def _previous(self, msg: Incoming) -> Outcome:
        previous = self._find_previous(msg)
        if previous is None:  # the unique violation was about something else; let the caller see an error
            raise RuntimeError("duplicate claim vanished")
        return previous

    def _find_previous(self, msg: Incoming) -> Outcome | None:
        with self.factory() as session:
            row = session.scalars(
                select(ProcessedMessage).where(
                    ProcessedMessage.channel == msg.channel, ProcessedMessage.dedup_key == msg.dedup_key[:200]
                )
            ).first()
        if row is None:
            return None
        if row.delivered_async:
            return Outcome(NO_REPLY, duplicate=True, delivered_async=True)
        return Outcome(row.reply or NO_REPLY, duplicate=True)

    def deliver_late(self, msg: Incoming, reply: str) -> None:
        """The passive reply missed WeChat's deadline: send it through the outbox instead."""
        if not reply:
            return
        with transaction(self.factory) as session:
            row = session.scalars(
                select(ProcessedMessage).where(
                    ProcessedMessage.channel == msg.channel, ProcessedMessage.dedup_key == msg.dedup_key[:200]
                )
            ).first()
            if row is None or row.person_id is None or row.delivered_async:
                return
            row.delivered_async = True
            outbox.enqueue_text(
                session, person_id=row.person_id, text=reply, key=f"late:{row.id}", now=self.services.clock.now()
            )
        log.info("reply to %s was late; queued for the customer-service API", mask_id(msg.user))


@functools.cache
def _claim_after(state: Update) -> Insert:
    """PostgreSQL: the dialog state's UPDATE and the claim as one statement (the UPDATE a data-modifying
    CTE, run once whether read or not), one round trip instead of two; built once per set of columns."""
    return _CLAIM.add_cte(state.cte("state_write"))


# Events a person causes by acting (WeChat opens the 48-hour window for them); others are reports.
_ACTS = frozenset({"click", "subscribe", "subscribe_scan", "scan", "enter_agent"})


def _writes_to_us(msg: Incoming) -> bool:
    """The message opens the customer-service window (`Person.last_inbound_at`)."""
    return msg.kind != "event" or msg.event in _ACTS


class _Busy(Exception):
    """Another writer holds the SQLite file: nothing was done, the message goes to the pipeline thread."""


def _sqlite_writer_lock(factory: sessionmaker[Session]) -> _NoLock | _FileLock:
    """SQLite takes one writer at a time. Its busy handler polls with sleeps of up to 100 ms, in no
    order, so several server processes on one file get seconds of tail latency. An flock() beside the
    database file queues them in the kernel instead (woken at once), FIFO-ish; PostgreSQL needs none."""
    engine = factory.kw.get("bind")
    url = getattr(engine, "url", None)
    if url is None or url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return _NoLock()
    return _FileLock(f"{url.database}.writer-lock")


class _KeptConnection:
    """One connection taken from the pool and held; used only under the writer lock."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None

    def get(self) -> Connection:
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            self._connection = self.engine.connect()
        return self._connection

    def drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _NoLock:
    """PostgreSQL (row locks order the writers) or an in-memory SQLite: nothing to take."""

    @contextmanager
    def __call__(self) -> Iterator[None]:
        yield

    @contextmanager
    def attempt(self) -> Iterator[bool]:
        yield True


class _FileLock:
    """An exclusive flock() on a small side file, plus a thread lock (flock is per open file, not per thread)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._thread_lock = threading.Lock()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._thread_lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # releases the GIL while it waits
                yield
            finally:
                os.close(fd)  # closing drops the lock

    @contextmanager
    def attempt(self) -> Iterator[bool]:
        """Take the lock only if it is free now: yields whether it was taken."""
        if not self._thread_lock.acquire(blocking=False):
            yield False
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
                yield True
            finally:
                os.close(fd)
        finally:
            self._thread_lock.release()
