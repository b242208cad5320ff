"""Engine and session factory for SQLite (embedded default) and PostgreSQL (scale-out)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import RootTransaction, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


POOL_SIZE = 10
MAX_OVERFLOW = 10
# Fail fast when PostgreSQL cannot be reached, well inside WeChat's 5 s: the callback then answers
# 503 and WeChat retries, instead of answering `success` on a message that is never handled.
CONNECT_TIMEOUT = 3


def make_engine(
    url: str,
    *,
    pool_size: int = POOL_SIZE,
    max_overflow: int = MAX_OVERFLOW,
    statement_timeout_ms: int | None = None,
    **kwargs: Any,
) -> Engine:
    """An engine; on PostgreSQL a pool of `pool_size` kept connections plus `max_overflow` for bursts.

    Size the pool to the threads that use it (bot/app.py does): more threads than pooled
    connections makes the overflow open and close connections all the time (measured: about a fifth
    less throughput and twice the p99 with 32 threads on a pool of 10).
    `statement_timeout_ms` (PostgreSQL): every statement and lock wait on these connections ends
    within it, set once when a connection opens instead of once per transaction.
    """
    url = normalize_url(url)
    parsed = make_url(url)
    # A failed statement's parameters (openids, phone numbers, tokens) stay out of its error text,
    # and so out of every log line and traceback that carries it.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    # No pre-ping (a `SELECT 1` round trip per checkout, every message): a connection broken by a
    # restart fails its first statement instead, which SQLAlchemy recognises as a disconnect and
    # answers by discarding the whole pool; that message gets a 503 and WeChat retries it.
    kwargs.setdefault("pool_recycle", 1800)
    connect_args = {"connect_timeout": CONNECT_TIMEOUT, **kwargs.pop("connect_args", {})}
    if statement_timeout_ms is not None:
        ms = int(statement_timeout_ms)
        connect_args["options"] = f"-c statement_timeout={ms} -c lock_timeout={ms}"
    return create_engine(url, pool_size=pool_size, max_overflow=max_overflow, connect_args=connect_args, **kwargs)


BUSY_TIMEOUT_MS = 30000
# How long this context's next SQLite transaction may wait for the write lock (busy_timeout).
_busy_timeout_ms: ContextVar[int] = ContextVar("sqlite_busy_timeout_ms", default=BUSY_TIMEOUT_MS)


@contextmanager
def sqlite_busy_timeout(ms: int) -> Iterator[None]:
    """SQLite transactions begun inside wait at most `ms` for another writer (then "database is locked").

    For work on the event loop, which must not sit in SQLite's busy handler: it tries briefly and goes
    to a thread if the file is busy. The connection's PRAGMA changes only when the wanted value does.
    """
    token = _busy_timeout_ms.set(ms)
    try:
        yield
    finally:
        _busy_timeout_ms.reset(token)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling starts transactions lazily and as DEFERRED, which lets two
    # writers deadlock on lock upgrade. We take control and begin every transaction IMMEDIATE, so
    # writers queue on busy_timeout instead of failing.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # On the driver's connection: through SQLAlchemy's execution path the BEGIN cost a quarter of a
        # dialog step's own SQL. Its errors ("database is locked") are wrapped as SQLAlchemy's would be.
        wanted = _busy_timeout_ms.get()
        info = conn.connection.info  # kept with the pooled connection
        driver = conn.connection.driver_connection
        if info.get("busy_timeout_ms", BUSY_TIMEOUT_MS) != wanted:
            _on_driver(driver, f"PRAGMA busy_timeout={int(wanted)}")
            info["busy_timeout_ms"] = wanted
        _on_driver(driver, "BEGIN IMMEDIATE")


def _on_driver(driver: sqlite3.Connection, statement: str) -> None:
    """A statement on the DBAPI connection, its error wrapped as SQLAlchemy wraps the ones it runs."""
    try:
        driver.execute(statement)
    except sqlite3.Error as err:
        raise DBAPIError.instance(statement, None, err, sqlite3.Error) from err


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


# A Session or the connection it (or the message's `Work`) runs on: what a read on the message path takes.
SessionOrConnection = Session | Connection


def connection_of(source: SessionOrConnection) -> Connection:
    """The connection to run prebuilt Core statements on: a Session's once what it holds is written."""
    return flushed(source) if isinstance(source, Session) else source


def flushed(session: Session) -> Connection:
    """The session's connection, once what the session holds is written (as an ORM query's autoflush
    would): a prebuilt Core statement on it sees the same rows without the ORM's execution path, which
    costs more than the statement on the hot path. Flushing a clean session is a no-op."""
    session.flush()
    return session.connection()


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


class Work:
    """One transaction on one connection; an ORM Session is made only when something asks for one.

    The message path's statements are prebuilt Core on `connection`; a command or an effect that works
    with ORM objects gets `session`, bound to the same connection and transaction (so each sees the
    other's rows). Making a Session and beginning and committing through it cost about as much as a
    plain dialog step's three statements: a step that never asks for it does not pay for it.
    """

    def __init__(self, connection: Connection, factory: sessionmaker[Session] | None) -> None:
        self._connection = connection
        self._factory = factory  # None only when the Session is there from the start (`of`)
        self._session: Session | None = None

    @classmethod
    def of(cls, session: Session) -> Work:
        """Work inside a Session already open (scripts, tests): both name its transaction."""
        work = cls(session.connection(), None)
        work._session = session
        return work

    @property
    def session(self) -> Session:
        if self._session is None:
            assert self._factory is not None, "a Work without a factory holds its Session from the start"
            # "control_fully": the Session commits (and rolls back) the connection's transaction as its own.
            self._session = self._factory(bind=self._connection, join_transaction_mode="control_fully")
        return self._session

    @property
    def connection(self) -> Connection:
        """The connection, with whatever the session holds written first (as an ORM query's autoflush would)."""
        if self._session is not None:
            self._session.flush()
        return self._connection

    def commit(self, transaction: RootTransaction) -> None:
        """Commit `transaction` (the connection's), through the Session if one was made: it flushes first
        and runs its after-commit hooks."""
        if self._session is not None:
            with self._session:
                self._session.commit()
        if transaction.is_active:  # no Session, or one that never ran a statement (it began nothing to commit)
            transaction.commit()

    def discard(self) -> None:
        """Forget the Session's objects and roll its transaction back (the caller's, with it)."""
        if self._session is not None:
            self._session.close()


@contextmanager
def work(factory: sessionmaker[Session], connection: Connection | None = None) -> Iterator[Work]:
    """`transaction`, with the Session made only on first use (`Work`): commit on success, roll back on any
    error. On `connection` when given (left open after), else on one from the pool."""
    with ExitStack() as stack:
        if connection is None:
            connection = stack.enter_context(factory.kw["bind"].connect())
        transaction = connection.begin()
        unit = Work(connection, factory)
        try:
            yield unit
        except BaseException:
            unit.discard()
            if transaction.is_active:
                transaction.rollback()
            raise
        unit.commit(transaction)
