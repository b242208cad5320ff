"""Prometheus metrics: what each process counts, and what a scrape shows.

Where they are read:
- `shangliang serve`: GET /metrics. Its uvicorn workers are separate processes, so `serve` hands
  them a fresh directory (PROMETHEUS_MULTIPROC_DIR, bot/cli.py) where each keeps its values, and
  /metrics adds up every worker's (prometheus_client's multiprocess mode): whichever worker takes
  the scrape, it shows the whole `serve`. The embedded outbox and scheduler count there too.
- `shangliang worker`: its own HTTP port (`--metrics-port`), for its sends and reminders.
- Both: the outbox backlog, read from the database at scrape time (the same figure everywhere:
  take `max`, not `sum`, across targets).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.services import outbox
from bot.settings import METRICS_DIR_ENV

log = logging.getLogger(__name__)

MESSAGES = Counter("shangliang_messages_total", "Inbound messages handled", ["channel", "kind", "outcome"])
HANDLE_SECONDS = Histogram(
    "shangliang_message_seconds",
    "Time to handle one inbound message",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 4, 10),
)
CALLBACK_SECONDS = Histogram(
    "shangliang_callback_seconds",
    "Time to answer a WeChat / WeCom callback, from its request to the last byte of the answer",
    ["channel", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 4, 5, 10),
)
# Signed callbacks refused at the edge: a stale timestamp (clock skew, or an old URL replayed) or a
# plaintext body on a (timestamp, nonce) already used by another body.
REFUSED = Counter("shangliang_callbacks_refused_total", "Callbacks refused at the edge", ["channel", "reason"])
OUTBOX_SENT = Counter("shangliang_outbox_sent_total", "Outbox messages sent", ["channel", "via"])
OUTBOX_FAILURES = Counter(
    "shangliang_outbox_failures_total",
    "Outbox send attempts that failed, by error code (WeChat errcode, or the transport error); a row retried counts each time",
    ["channel", "code"],
)
MEDIA_FETCHES = Counter(
    "shangliang_media_fetches_total",
    "Residents' photos fetched from the media API, by outcome (stored, retry, failed)",
    ["channel", "outcome"],
)
REMINDER_LAG = Histogram(
    "shangliang_reminder_lag_seconds",
    "How late a session reminder was queued after its moment",
    buckets=(1, 5, 15, 30, 60, 120, 300, 900, 3600, 4 * 3600, 24 * 3600),
)


class OutboxBacklog(Collector):
    """The outbox's waiting rows, read from the database when scraped."""

    def __init__(self, factory: sessionmaker[Session], clock: Clock) -> None:
        self.factory = factory
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        try:
            with self.factory() as session:
                found = outbox.backlog(session, now=self.clock.now())
        except SQLAlchemyError as exc:  # the database is away: /healthz says so; the scrape goes on without
            log.warning("outbox backlog unavailable for metrics: %s", type(exc).__name__)
            return
        rows = GaugeMetricFamily(
            "shangliang_outbox_backlog",
            "Outbox rows not yet final: due (may go now), later (waiting for a retry or a throttle), sending (claimed)",
            labels=["state"],
        )
        rows.add_metric(["due"], found.due)
        rows.add_metric(["later"], found.later)
        rows.add_metric(["sending"], found.sending)
        yield rows
        yield GaugeMetricFamily(
            "shangliang_outbox_oldest_due_seconds",
            "How long the oldest due outbox row has waited (0 when none is due)",
            value=found.oldest_due_wait.total_seconds(),
        )


class _ThisProcess(Collector):
    """This process's own metrics (the default registry)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def registry(factory: sessionmaker[Session], clock: Clock) -> CollectorRegistry:
    """What a scrape shows: every worker of this `serve` (multiprocess mode) or this process, plus the backlog."""
    shown = CollectorRegistry()
    if os.environ.get(METRICS_DIR_ENV):
        MultiProcessCollector(shown)
    else:
        shown.register(_ThisProcess())
    shown.register(OutboxBacklog(factory, clock))
    return shown


def exposition(factory: sessionmaker[Session], clock: Clock) -> bytes:
    return generate_latest(registry(factory, clock))
