"""Background services of a process: the outbox worker thread, the photo fetcher thread and the
APScheduler scheduler.

The embedded default runs both inside the web process; at scale they run as their own processes
(`shangliang worker`, one or more). Every process sends the outbox; only the leader (the process
holding the lock of scheduler/leader.py) runs the scheduler, the others stand by to take over.
Jobs read the database and write outbox rows; one brings proposals indexed under older keyword rules
up to date (`jobs.reindex_stale`).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

import httpx
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from bot.outbound.api import WeChatApi, WeComApi
from bot.outbound.tokens import TokenCache
from bot.runtime import Runtime
from scheduler import broadcast_reports, followups, jobs, nudges, reminders
from scheduler.leader import Elector, LeaderLock, lock_for
from scheduler.media import MediaFetcher
from scheduler.outbox import OutboxWorker
from storage.db import make_engine

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
MEDIA_POLL_SECONDS = 2.0  # photos are few; a resident's photo is fetched within seconds of arriving


def make_outbox_worker(runtime: Runtime, http: httpx.Client) -> OutboxWorker:
    tokens = TokenCache(runtime.factory, runtime.clock)
    return OutboxWorker(
        runtime.factory,
        runtime.clock,
        WeChatApi(runtime.settings, tokens, http),
        WeComApi(runtime.settings, tokens, http),
        concurrency=runtime.settings.outbox_concurrency,
    )


def make_media_fetcher(runtime: Runtime, http: httpx.Client) -> MediaFetcher:
    tokens = TokenCache(runtime.factory, runtime.clock)
    return MediaFetcher(
        runtime.factory,
        runtime.clock,
        WeChatApi(runtime.settings, tokens, http),
        WeComApi(runtime.settings, tokens, http),
    )


class BackgroundServices:
    """The outbox worker (in every process: it claims rows with FOR UPDATE SKIP LOCKED) and the
    scheduler (only in the process holding the leader lock, see scheduler/leader.py)."""

    def __init__(self, runtime: Runtime, lock: LeaderLock | None = None) -> None:
        self.runtime = runtime
        self.http = httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0))
        self.worker = make_outbox_worker(runtime, self.http)
        self.media = make_media_fetcher(runtime, self.http)
        self.stopping = threading.Event()
        self.thread = threading.Thread(
            target=self._poll, args=(self.worker, POLL_SECONDS, "outbox worker"), name="outbox", daemon=True
        )
        # Its own thread: a slow download never holds up the outbox.
        self.media_thread = threading.Thread(
            target=self._poll, args=(self.media, MEDIA_POLL_SECONDS, "photo fetcher"), name="media", daemon=True
        )
        self.scheduler: BackgroundScheduler | None = None
        self._store_engine: Engine | None = None
        self.elector = Elector(
            lock or lock_for(runtime.settings.database_url),
            interval=runtime.settings.leader_check_interval.total_seconds(),
            on_elected=self._start_scheduler,
            on_lost=self._stop_scheduler,
        )

    def start(self) -> None:
        self.thread.start()
        self.media_thread.start()
        jobs.bind(self.runtime)
        self.elector.start()

    def stop(self) -> None:
        self.stopping.set()
        self.worker.wake.set()
        self.media.wake.set()
        self.elector.stop()  # stops the scheduler if this process leads, and releases the lock
        self.thread.join(timeout=10)
        self.media_thread.join(timeout=10)
        for api in (self.worker.wechat, self.worker.wecom, *self.media.apis.values()):
            api.close()
        self.http.close()

    def _start_scheduler(self) -> None:
        """Leader elected: start APScheduler on the shared job store and (re)register the jobs."""
        settings = self.runtime.settings
        # The job store has an engine of its own: shutting the scheduler down disposes it, which must
        # not empty the pool the pipeline is using.
        store_engine = self._store_engine = make_engine(settings.database_url, pool_size=1, max_overflow=2)
        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=store_engine)}, timezone=settings.timezone
        )
        self.scheduler = scheduler
        try:
            scheduler.start()
            scheduler.add_job(
                jobs.prune_processed,
                "interval",
                hours=6,
                id="prune:processed",
                replace_existing=True,
                coalesce=True,
                misfire_grace_time=3600,
            )
            scheduler.add_job(
                jobs.reindex_stale,
                "interval",
                minutes=jobs.REINDEX_EVERY_MINUTES,
                id="reindex:stale",
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                next_run_time=datetime.now(UTC),  # after an upgrade, start now
            )
            scheduler.add_job(
                broadcast_reports.report_job,
                "interval",
                seconds=broadcast_reports.INTERVAL_SECONDS,
                id="broadcast:reports",
                replace_existing=True,
                coalesce=True,
            )
            # Reminder jobs follow the session rows: reconcile now (sending what fell due while no
            # process led), then keep up.
            reminders.start(scheduler, self.runtime)
            nudges.register(scheduler)
            followups.register(scheduler)
        except BaseException:
            self._stop_scheduler()
            raise

    def _stop_scheduler(self) -> None:
        """Leadership lost or process stopping: fire nothing more (running jobs finish on their own)."""
        scheduler, self.scheduler = self.scheduler, None
        store_engine, self._store_engine = self._store_engine, None
        reminders.stop()
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
        if store_engine is not None:
            store_engine.dispose()

    def _poll(self, job: OutboxWorker | MediaFetcher, idle_seconds: float, what: str) -> None:
        """Pass after pass until stopped; an idle pass waits for a wake-up or `idle_seconds`."""
        while not self.stopping.is_set():
            try:
                handled = job.run_once()
            except Exception:
                log.exception("%s pass failed", what)
                handled = 0
            if not handled:
                job.wake.wait(idle_seconds)
                job.wake.clear()
