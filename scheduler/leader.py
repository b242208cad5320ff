"""One scheduler at a time: the process holding the leader lock fires the scheduled jobs.

Every `shangliang worker` (and every web process with RUN_SCHEDULER=true) runs an `Elector`. The
one that takes the lock starts APScheduler; the others stand by and try again every few seconds.

The lock is a PostgreSQL session-level advisory lock held on a dedicated connection for as long
as the process leads, not a Redis lock with a TTL. Why:

- PostgreSQL is already required for more than one process, Redis is optional: no new dependency,
  and the jobs need the database anyway, so a leader that cannot reach it could do nothing useful.
- The server releases the lock the moment the holder's connection ends (the process died, was
  killed, lost the network — with the keepalive settings below, within seconds). There is no TTL
  to tune against pauses, no renewal thread whose hiccup hands the lock to a second leader while
  the first still runs, and no clocks involved.

The lock is an economy, not the only guard: every job is idempotent on its own (a reminder's
delivery row, the nudge counter, outbox dedup keys), so the few seconds in which an old leader
might not yet have noticed it lost its lock cannot send anything twice.

Connection poolers in transaction mode (PgBouncer `pool_mode=transaction`) do not keep session
locks: point DATABASE_URL of scheduler processes at PostgreSQL itself or at a session-mode pool.
SQLite deployments are a single process by design: there the lock is always held.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from storage.db import normalize_url

log = logging.getLogger(__name__)

# pg_try_advisory_lock(int, int): a namespace for shangliang, then which lock. Advisory locks are
# per database, so two deployments on one server (different databases) do not meet.
LOCK_NAMESPACE = 0x53484C47  # "SHLG"
SCHEDULER_LOCK = 1
APPLICATION_NAME = "shangliang-scheduler"
CHECK_TIMEOUT_MS = 3000
STOPPING = "process stopping"


class LeaderLock(Protocol):
    def try_acquire(self) -> bool:
        """Take the lock if it is free. True when this process holds it afterwards."""
        ...

    def still_held(self) -> bool:
        """Whether the lock is certainly still ours (False on any doubt, e.g. a broken connection)."""
        ...

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        ...

    def close(self) -> None:
        """Release and free every resource."""
        ...


class SingleProcessLock:
    """SQLite: one process by design, so that process always leads."""

    def try_acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass


def holder_name() -> str:
    """What `pg_stat_activity.application_name` shows for the lock connection: host and pid."""
    return f"{APPLICATION_NAME}:{socket.gethostname()}:{os.getpid()}"[:63]


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock on a connection of its own (never a pooled one:
    the pool would hand it to other work, recycle it, or replace it after a failed ping, silently
    dropping the lock)."""

    def __init__(self, url: str, *, key: tuple[int, int] = (LOCK_NAMESPACE, SCHEDULER_LOCK)) -> None:
        self.key = key
        self.engine: Engine = create_engine(
            normalize_url(url),
            poolclass=NullPool,
            connect_args={
                "application_name": holder_name(),
                "connect_timeout": 5,
                # Client side: notice a dead server or network within ~15 s, even while idle.
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 3,
                "tcp_user_timeout": 10_000,
                # Server side, for this session only: release the lock of a vanished holder just as fast
                # (the default is the OS keepalive, two hours). `statement_timeout` bounds our checks.
                "options": (
                    "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 "
                    f"-c tcp_user_timeout=10000 -c statement_timeout={CHECK_TIMEOUT_MS}"
                ),
            },
        )
        self._conn: Connection | None = None
        self._held = False

    def try_acquire(self) -> bool:
        if self._held:
            return self.still_held()
        try:
            conn = self._connection()
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": self.key[0], "b": self.key[1]}).scalar()
            )
        except Exception as exc:
            log.warning("cannot reach the database to take the scheduler lock: %s", type(exc).__name__)
            self._drop()
            return False
        self._held = got
        return got

    def still_held(self) -> bool:
        if not self._held or self._conn is None:
            return False
        try:
            found = self._conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                    " AND granted AND classid = :a AND objid = :b AND objsubid = 2"
                ),
                {"a": self.key[0], "b": self.key[1]},
            ).scalar()
        except Exception as exc:
            log.warning("lost the scheduler lock connection: %s", type(exc).__name__)
            self._drop()
            return False
        if not found:
            self._held = False
        return bool(found)

    def release(self) -> None:
        # Closing the session releases every session lock it holds; no unlock call to fail halfway.
        self._drop()

    def close(self) -> None:
        self._drop()
        self.engine.dispose()

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._drop()
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def _drop(self) -> None:
        self._held = False
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a broken connection may fail to close; it is gone either way
                log.debug("closing the lock connection failed", exc_info=True)


def lock_for(database_url: str) -> LeaderLock:
    """The advisory lock on PostgreSQL; the always-held lock on SQLite (one process by design)."""
    if make_url(normalize_url(database_url)).get_backend_name() == "postgresql":
        return AdvisoryLock(database_url)
    return SingleProcessLock()


class Elector:
    """A thread that wins, keeps and loses leadership, calling `on_elected` / `on_lost` on change.

    Standby: try the lock every `interval` seconds. Leader: check every `interval` seconds that the
    lock connection is alive and the lock still ours; if not, call `on_lost` at once (stop firing)
    and go back to standby. If `on_elected` fails (say the database went away while starting), the
    lock is given up so that another process can try.
    """

    def __init__(
        self,
        lock: LeaderLock,
        *,
        interval: float,
        on_elected: Callable[[], None],
        on_lost: Callable[[], None],
    ) -> None:
        self.lock = lock
        self.interval = interval
        self.on_elected = on_elected
        self.on_lost = on_lost
        self.leading = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler-leader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop competing; a leader stops its jobs and releases the lock."""
        self._stop.set()
        self._thread.join(timeout=self.interval + 15)
        if self.leading.is_set():
            self._step_down(STOPPING)
        self.lock.close()

    def _run(self) -> None:
        announced_standby = False
        while not self._stop.is_set():
            try:
                if self.leading.is_set():
                    if not self.lock.still_held():
                        self._step_down("the lock or its connection was lost")
                elif self.lock.try_acquire():
                    self._take_over()
                    announced_standby = False
                elif not announced_standby:
                    log.info(
                        "scheduler standby: another process holds the scheduler lock; retrying every %.0f s",
                        self.interval,
                    )
                    announced_standby = True
            except Exception:  # never let the election thread die: no process would ever lead again
                log.exception("scheduler leader election pass failed")
            self._stop.wait(self.interval)

    def _take_over(self) -> None:
        log.info("scheduler leader: this process (%s) now fires the scheduled jobs", holder_name())
        self.leading.set()
        try:
            self.on_elected()
        except Exception:
            log.exception("starting the scheduler failed; giving the lock up")
            self._step_down("start failed")

    def _step_down(self, why: str) -> None:
        level = logging.INFO if why == STOPPING else logging.WARNING
        log.log(level, "scheduler leader: this process (%s) stops firing scheduled jobs (%s)", holder_name(), why)
        self.leading.clear()
        try:
            self.on_lost()
        except Exception:
            log.exception("stopping the scheduler failed")
        finally:
            self.lock.release()
