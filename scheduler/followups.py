"""Timed jobs for convenors and residents: the 'was it solved?' question (FOLLOWUP_AFTER after a result),
the convenors' batched notices (every NOTICE_BATCH_INTERVAL in the daytime), daily 督办 at
OVERDUE_REMINDER_TIME, the monthly digest on the 1st at DIGEST_TIME (local times in TIMEZONE).

Each job function takes the runtime and an optional `now` (tests call them directly) and is safe to
run again or from two schedulers at once: the rows it acts on are locked and stamped, and every
message has an idempotency key.
"""

from __future__ import annotations

from datetime import datetime

from apscheduler.schedulers.base import BaseScheduler

from bot.runtime import Runtime
from bot.services import digest, followup, staff_notices
from scheduler import jobs
from storage.db import transaction

ASK_EVERY_MINUTES = 30


def ask(runtime: Runtime, now: datetime | None = None) -> int:
    """Ask the questions that fell due. Returns how many were queued."""
    now = now or runtime.clock.now()
    s = runtime.settings
    with transaction(runtime.factory) as db:
        return followup.ask_due(db, now=now, after=s.followup_after, tz=s.timezone)


def remind_overdue(runtime: Runtime, now: datetime | None = None) -> int:
    """督办: remind convenors of overdue responsibility items (once a local day)."""
    now = now or runtime.clock.now()
    with transaction(runtime.factory) as db:
        return digest.remind_overdue(db, now=now, settings=runtime.settings)


def send_staff_batches(runtime: Runtime, now: datetime | None = None) -> int:
    """Each convenor's waiting notices (新提议, 新微建言, 附议, 请假) as one message, in the daytime."""
    now = now or runtime.clock.now()
    with transaction(runtime.factory) as db:
        return staff_notices.send_batches(db, now=now, settings=runtime.settings)


def send_digests(runtime: Runtime, now: datetime | None = None) -> int:
    """The monthly digest of every room to its convenors (once a month)."""
    now = now or runtime.clock.now()
    with transaction(runtime.factory) as db:
        return digest.send_digests(db, now=now, settings=runtime.settings)


# Module-level, argument-free wrappers: what the persistent job store pickles.


def ask_job() -> int:
    return ask(jobs._rt())


def overdue_job() -> int:
    return remind_overdue(jobs._rt())


def digest_job() -> int:
    return send_digests(jobs._rt())


def staff_batch_job() -> int:
    return send_staff_batches(jobs._rt())


def register(scheduler: BaseScheduler) -> None:
    """Add the follow-up jobs; the daily and monthly ones at the configured local times."""
    s = jobs._rt().settings
    scheduler.add_job(
        ask_job,
        "interval",
        minutes=ASK_EVERY_MINUTES,
        id="followup:ask",
        replace_existing=True,
        coalesce=True,
        misfire_grace_time=3600,
    )
    if s.notice_batch_interval.total_seconds() > 0:
        scheduler.add_job(
            staff_batch_job,
            "interval",
            seconds=int(s.notice_batch_interval.total_seconds()),
            id="staff:batches",
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=3600,
        )
    at = s.overdue_reminder_time
    scheduler.add_job(
        overdue_job,
        "cron",
        hour=at.hour,
        minute=at.minute,
        timezone=s.timezone,
        id="followup:overdue",
        replace_existing=True,
        coalesce=True,
        misfire_grace_time=12 * 3600,  # still today if the scheduler was down at that time
    )
    at = s.digest_time
    scheduler.add_job(
        digest_job,
        "cron",
        day=1,
        hour=at.hour,
        minute=at.minute,
        timezone=s.timezone,
        id="followup:digest",
        replace_existing=True,
        coalesce=True,
        misfire_grace_time=3 * 86400,  # a digest a day or two late beats none
    )
