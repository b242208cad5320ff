"""Job functions for the persistent job store: module-level, argument-free or id-only, so they
pickle; each reaches the process's runtime through `bind()` and reloads what it needs."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import delete

from bot.runtime import Runtime
from bot.services import media, nonces, proposals
from storage.db import transaction
from storage.models import ProcessedMessage

KEEP_PROCESSED = timedelta(days=3)  # WeChat retries within seconds; three days is ample
REINDEX_EVERY_MINUTES = 5
REINDEX_BUDGET_SECONDS = 20.0  # per run: 100,000 proposals take a few runs, and no run holds the worker long
# Per transaction: on SQLite it holds the write lock while jieba reads the texts (30-60 ms for 100), and a
# resident's message waits that long at most.
REINDEX_BATCH = 100
_runtime: Runtime | None = None


def bind(runtime: Runtime) -> None:
    """Give job functions this process's runtime (called once when the scheduler starts)."""
    global _runtime
    _runtime = runtime


def _rt() -> Runtime:
    if _runtime is None:
        raise RuntimeError("scheduler jobs are not bound to a runtime")
    return _runtime


def prune_processed() -> int:
    """Forget idempotency records old enough that no retry can still come, stale callback nonces, and
    photos that no item holds a month after they arrived."""
    runtime = _rt()
    now = runtime.clock.now()
    with transaction(runtime.factory) as session:
        result = session.execute(delete(ProcessedMessage).where(ProcessedMessage.created_at < now - KEEP_PROCESSED))
        nonces.prune(session, now=now, signature_max_age=runtime.settings.signature_max_age)
        media.prune_unfiled(session, now=now)
        return int(getattr(result, "rowcount", 0) or 0)


def reindex_stale() -> int:
    """Bring proposals indexed under older keyword rules up to date (proposals.INDEX_RULES), a batch per
    transaction, for at most REINDEX_BUDGET_SECONDS a run; how many it did. Nothing to do costs one query."""
    runtime = _rt()
    done = 0
    deadline = time.monotonic() + REINDEX_BUDGET_SECONDS
    while time.monotonic() < deadline:
        with transaction(runtime.factory) as session:
            count = proposals.reindex_stale(session, batch=REINDEX_BATCH)
        done += count
        if count == 0:
            break
    return done
