"""Session reminders: one APScheduler job per (session, offset), the database row as the truth.

Job ids are deterministic (`reminder:<session>:<offset_seconds>`) and added with
`replace_existing=True`, so creating, moving and cancelling a session just re-syncs its jobs. The
job function takes ids and reloads: it sends only while the session is scheduled and has not
begun, and only if no `ReminderDelivery` row exists for (session, offset, current start time) —
that row and the outbox rows commit together, so a reminder is never sent twice and never for a
time the session no longer has.

Sessions change in any process (a web process with RUN_SCHEDULER=false has no scheduler to tell).
The leader follows them two ways: on start `reconcile` re-adds the jobs of every future session;
then a sweep every REMINDER_SWEEP_INTERVAL re-syncs the sessions changed since the last sweep (by
`updated_at`) and runs the `due` catch-up, which sends what fell due and was not sent. So a reminder
whose session was created or moved elsewhere goes out at its moment (the job) or at the latest one
sweep later (the catch-up), even when its offset is shorter than the sweep.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.metrics import REMINDER_LAG
from bot.runtime import Runtime
from bot.services import rsvp, sessions
from bot.services.session_notices import ANSWER_HOW, ahead_text, details, enqueue_notice
from scheduler import jobs
from storage.db import transaction
from storage.models import ConsultSession, ReminderDelivery, SessionInvitee

log = logging.getLogger(__name__)

# A sweep re-syncs sessions changed this long before the last sweep as well: rows committed late
# (a transaction stamps `updated_at` before it commits) and clocks of other hosts a little behind.
CHANGE_OVERLAP = timedelta(minutes=1)


def job_id(session_id: int, offset_seconds: int) -> str:
    return f"reminder:{session_id}:{offset_seconds}"


def offsets_of(runtime: Runtime) -> list[int]:
    return sorted({int(o.total_seconds()) for o in runtime.settings.reminder_offsets}, reverse=True)


# --- the job -----------------------------------------------------------------------------------


def send_reminder(session_id: int, offset_seconds: int) -> int:
    """APScheduler job: reload the session and send what is due (ids only, so it pickles)."""
    return remind(jobs._rt(), session_id=session_id)


def remind(runtime: Runtime, *, session_id: int, now: datetime | None = None) -> int:
    """Send the session's due reminder, if any. Returns the number of messages queued.

    When several offsets fell due unsent (the scheduler was down), only the nearest one is sent —
    one reminder, the most relevant — and all of them are recorded.
    """
    now = now or runtime.clock.now()
    try:
        with transaction(runtime.factory) as db:
            consult = db.scalars(
                select(ConsultSession).where(ConsultSession.id == session_id).with_for_update(of=ConsultSession)
            ).first()
            if consult is None or consult.status != "scheduled" or now >= consult.starts_at:
                return 0
            delivered = set(
                db.scalars(
                    select(ReminderDelivery.offset_seconds).where(
                        ReminderDelivery.session_id == consult.id, ReminderDelivery.starts_at == consult.starts_at
                    )
                )
            )
            offsets = offsets_of(runtime)
            fresh = [s for s in offsets if consult.starts_at - timedelta(seconds=s) <= now and s not in delivered]
            if not fresh:
                return 0
            db.add_all(
                ReminderDelivery(session_id=consult.id, offset_seconds=s, starts_at=consult.starts_at, sent_at=now)
                for s in fresh
            )
            db.flush()  # a concurrent sender of the same reminder fails here, and its messages with it
            queued = _queue(runtime, db, consult, min(fresh), last=min(fresh) == min(offsets), now=now)
            moment = consult.starts_at - timedelta(seconds=min(fresh))
    except IntegrityError:
        log.info("reminder for session %s was sent by another worker", session_id)
        return 0
    REMINDER_LAG.observe(max(0.0, (now - moment).total_seconds()))
    return queued


def _queue(runtime: Runtime, db: Session, consult: ConsultSession, offset: int, *, last: bool, now: datetime) -> int:
    settings = runtime.settings
    body = details(
        consult, tz=settings.timezone, base_url=settings.public_base_url, secret=settings.secret_key.get_secret_value()
    )
    head = f"【协商提醒】「{consult.room.name}」的协商活动还有 {ahead_text(offset)}开始。\n{body}"
    stamp = int(consult.starts_at.timestamp())
    invitees = list(db.scalars(select(SessionInvitee).where(SessionInvitee.session_id == consult.id)))
    # The nearest reminder to the convenor carries the tally: who comes, who is away, who is silent.
    tally = rsvp.tally_text(rsvp.tally(db, session_id=consult.id)) if last else ""
    queued = 0
    recipients: dict[int, SessionInvitee | None] = {i.person_id: i for i in invitees}
    if last and consult.convenor_id is not None:
        recipients.setdefault(consult.convenor_id, None)
    for person_id, invitee in recipients.items():
        if invitee is None:
            answer = ""
        elif invitee.rsvp in ("attend", "leave"):
            answer = f"您已回复「{rsvp.RSVP_NAMES[invitee.rsvp]}」，如有变化可再回复「参加」或「请假 理由」。"
        else:
            answer = ANSWER_HOW
        text = "\n".join(part for part in (head, answer) if part)
        if last and person_id == consult.convenor_id:
            text = f"{text}\n\n{tally}"
        row = enqueue_notice(
            db, person_id=person_id, text=text, key=f"reminder:{consult.id}:{offset}:{stamp}:{person_id}", now=now
        )
        queued += row is not None
    return queued


def due(runtime: Runtime, now: datetime | None = None) -> int:
    """Catch-up pass: send every reminder due now for sessions not yet begun (never twice)."""
    now = now or runtime.clock.now()
    with runtime.factory() as db:
        ids: set[int] = set()
        # One query per offset, finding only what is due and unsent: cheap enough for every sweep.
        for seconds in offsets_of(runtime):
            sent = exists().where(
                and_(
                    ReminderDelivery.session_id == ConsultSession.id,
                    ReminderDelivery.offset_seconds == seconds,
                    ReminderDelivery.starts_at == ConsultSession.starts_at,
                )
            )
            ids.update(
                db.scalars(
                    select(ConsultSession.id).where(
                        ConsultSession.status == "scheduled",
                        ConsultSession.starts_at > now,
                        ConsultSession.starts_at <= now + timedelta(seconds=seconds),
                        ~sent,
                    )
                )
            )
    return sum(remind(runtime, session_id=sid, now=now) for sid in sorted(ids))


# --- keeping the jobs in step with the rows ----------------------------------------------------


def sync(scheduler: BaseScheduler, runtime: Runtime, session_id: int) -> set[str]:
    """Add, move or remove one session's reminder jobs. Returns the ids of the jobs it keeps."""
    now = runtime.clock.now()
    with runtime.factory() as db:
        consult = db.get(ConsultSession, session_id)
        starts_at = consult.starts_at if consult is not None and consult.status == "scheduled" else None
    kept: set[str] = set()
    for seconds in offsets_of(runtime):
        jid = job_id(session_id, seconds)
        run_at = starts_at - timedelta(seconds=seconds) if starts_at is not None else None
        if run_at is not None and run_at > now:
            scheduler.add_job(
                send_reminder,
                "date",
                run_date=run_at,
                args=[session_id, seconds],
                id=jid,
                replace_existing=True,
                coalesce=True,
                misfire_grace_time=None,  # late is better than never; the job itself checks the start
            )
            kept.add(jid)
        else:
            with contextlib.suppress(JobLookupError):
                scheduler.remove_job(jid)
    return kept


def reconcile(scheduler: BaseScheduler, runtime: Runtime) -> int:
    """Jobs for every future session, none for the rest; then send what fell due. Returns messages queued."""
    now = runtime.clock.now()
    with runtime.factory() as db:
        ids = db.scalars(
            select(ConsultSession.id).where(ConsultSession.status == "scheduled", ConsultSession.starts_at > now)
        ).all()
    wanted: set[str] = set()
    for sid in ids:
        wanted |= sync(scheduler, runtime, sid)
    for job in scheduler.get_jobs():
        if job.id.startswith("reminder:") and job.id not in wanted:
            scheduler.remove_job(job.id)
    return due(runtime, now)


@dataclass
class _Following:
    """What the leader's sweep works with: its scheduler, and how far it has followed session changes."""

    scheduler: BaseScheduler
    listener: sessions.ChangeListener
    synced_until: datetime


_following: _Following | None = None


def sweep() -> int:
    """Periodic job: re-sync sessions changed since the last sweep (in any process), then send what is due."""
    following = _following
    if following is None:
        return 0
    runtime = jobs._rt()
    now = runtime.clock.now()
    with runtime.factory() as db:
        changed = db.scalars(
            select(ConsultSession.id).where(ConsultSession.updated_at >= following.synced_until - CHANGE_OVERLAP)
        ).all()
    for session_id in changed:
        sync(following.scheduler, runtime, session_id)
    following.synced_until = now
    return due(runtime, now)


def start(scheduler: BaseScheduler, runtime: Runtime) -> None:
    """On scheduler start: reconcile, follow this process's session changes at once and every
    process's at each sweep (REMINDER_SWEEP_INTERVAL)."""
    global _following
    stop()
    now = runtime.clock.now()
    reconcile(scheduler, runtime)

    def follow(session_id: int) -> None:
        sync(scheduler, runtime, session_id)

    _following = _Following(scheduler=scheduler, listener=follow, synced_until=now)
    sessions.add_listener(follow)
    interval = runtime.settings.reminder_sweep_interval
    scheduler.add_job(
        sweep,
        "interval",
        seconds=interval.total_seconds(),
        id="reminders:sweep",
        replace_existing=True,
        coalesce=True,
        misfire_grace_time=max(1, int(interval.total_seconds())),
    )


def stop() -> None:
    """Stop following session changes (leadership lost, or the process stops)."""
    global _following
    following, _following = _following, None
    if following is not None:
        sessions.remove_listener(following.listener)
