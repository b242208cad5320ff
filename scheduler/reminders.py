"""Session reminders: one APScheduler job per (session, offset), the database row as the truth.

Job ids are deterministic (`reminder:<session>:<offset_seconds>`) and added with
`replace_existing=True`, so creating, moving and cancelling a session just re-syncs its jobs. The
job function takes ids and reloads: it sends only while the session is scheduled and has not
begun, and only if no `ReminderDelivery` row exists for (session, offset, current start time) —
that row and the outbox rows commit together, so a reminder is never sent twice and never for a
time the session no longer has. On start, and every few minutes, `reconcile` re-adds the jobs of
every future session (created by any process) and sends once what fell due while nobody ran them.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from bot.services import rsvp, sessions
from bot.services.session_notices import ANSWER_HOW, ahead_text, details, enqueue_notice
from scheduler import jobs
from storage.db import transaction
from storage.models import ConsultSession, ReminderDelivery, SessionInvitee

log = logging.getLogger(__name__)

SWEEP_MINUTES = 5
_listener: sessions.ChangeListener | None = None


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
            return _queue(runtime, db, consult, min(fresh), last=min(fresh) == min(offsets), now=now)
    except IntegrityError:
        log.info("reminder for session %s was sent by another worker", session_id)
        return 0


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
    horizon = now + max(runtime.settings.reminder_offsets, default=timedelta(0))
    with runtime.factory() as db:
        ids = db.scalars(
            select(ConsultSession.id).where(
                ConsultSession.status == "scheduled",
                ConsultSession.starts_at > now,
                ConsultSession.starts_at <= horizon,
            )
        ).all()
    return sum(remind(runtime, session_id=sid, now=now) for sid in ids)


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


def sweep() -> int:
    """Periodic job: reconcile with the rows (sessions changed by other processes)."""
    if _scheduler is None:
        return 0
    return reconcile(_scheduler, jobs._rt())


_scheduler: BaseScheduler | None = None


def start(scheduler: BaseScheduler, runtime: Runtime) -> None:
    """On scheduler start: reconcile, follow this process's session changes, sweep every few minutes."""
    global _scheduler, _listener
    _scheduler = scheduler
    reconcile(scheduler, runtime)

    def follow(session_id: int) -> None:
        sync(scheduler, runtime, session_id)

    stop()
    _listener = follow
    sessions.add_listener(follow)
    scheduler.add_job(
        sweep,
        "interval",
        minutes=SWEEP_MINUTES,
        id="reminders:sweep",
        replace_existing=True,
        coalesce=True,
        misfire_grace_time=SWEEP_MINUTES * 60,
    )


def stop() -> None:
    global _listener, _scheduler
    _scheduler = None
    if _listener is not None:
        sessions.remove_listener(_listener)
        _listener = None
