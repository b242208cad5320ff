"""Background services of a process: the outbox worker thread and the APScheduler scheduler.

The embedded default runs both inside the web process; at scale they run as their own process
(`shangliang worker`). Jobs only read the database and write outbox rows.
"""

from __future__ import annotations

import logging
import threading

import httpx
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from bot.outbound.api import WeChatApi, WeComApi
from bot.outbound.tokens import TokenCache
from bot.runtime import Runtime
from scheduler import broadcast_reports, followups, jobs, nudges, reminders
from scheduler.outbox import OutboxWorker

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


def make_outbox_worker(runtime: Runtime, http: httpx.Client) -> OutboxWorker:
    tokens = TokenCache(runtime.factory, runtime.clock)
    return OutboxWorker(
        runtime.factory,
        runtime.clock,
        WeChatApi(runtime.settings, tokens, http),
        WeComApi(runtime.settings, tokens, http),
    )


class BackgroundServices:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.http = httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0))
        self.worker = make_outbox_worker(runtime, self.http)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="outbox", daemon=True)
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=runtime.engine)},
            timezone=runtime.settings.timezone,
        )

    def start(self) -> None:
        self.thread.start()
        jobs.bind(self.runtime)
        self.scheduler.start()
        self.scheduler.add_job(
            jobs.prune_processed,
            "interval",
            hours=6,
            id="prune:processed",
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=3600,
        )
        self.scheduler.add_job(
            broadcast_reports.report_job,
            "interval",
            seconds=broadcast_reports.INTERVAL_SECONDS,
            id="broadcast:reports",
            replace_existing=True,
            coalesce=True,
        )
        # Reminder jobs follow the session rows: reconcile now (sending what fell due while down), then keep up.
        reminders.start(self.scheduler, self.runtime)
        nudges.register(self.scheduler)
        followups.register(self.scheduler)

    def stop(self) -> None:
        self.stopping.set()
        self.worker.wake.set()
        self.thread.join(timeout=10)
        reminders.stop()
        self.scheduler.shutdown(wait=False)
        self.worker.wechat.close()
        self.worker.wecom.close()
        self.http.close()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                handled = self.worker.run_once()
            except Exception:
                log.exception("outbox worker pass failed")
                handled = 0
            if not handled:
                self.worker.wake.wait(POLL_SECONDS)
                self.worker.wake.clear()
