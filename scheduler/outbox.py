"""The outbox worker: claims due rows, sends them by the channel's rules, records how each went out.

Claiming. Rows are claimed in a short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
several workers share the work) and marked `sending`, with `attempts` incremented, before any
network call. `attempts` doubles as the claim's fencing token: every later write is conditional on
`status = 'sending' AND attempts = <value at claim>`, so a worker whose claim was taken over never
overwrites the new owner's outcome.

A pass claims at most ONE_BY_ONE official-account rows (one API call each, so a small claim lets
every worker share a broadcast) and up to BATCH WeCom and simulator rows (a WeCom call takes 1,000).

Concurrency. A pass sends its official-account rows in waves of up to OUTBOX_CONCURRENCY calls at
once (on the worker's one HTTP client: its kept-alive connections are reused), each wave's people
distinct (so one person's rows still go one after the other, in order), the waves growing 1, 2, 4 ...
up to the limit: a rate-limit answer on a pass's first call still stops the pass after one call.
A wave's outcomes are written in one transaction.

Leases. A claimed row is leased, not owned: its `next_attempt_at` holds the lease's deadline, LEASE
ahead, and a thread of the pass renews it every RENEW_EVERY seconds while the pass works (so a slow
API call cannot let it lapse). A row still `sending` past its deadline belonged to a worker that
died, or lost the database for longer than the lease: the next claim by any worker puts it back in
the queue, so a crash holds its rows up for seconds, not minutes. A worker that could not renew in
time stops sending the rest of its claim (another worker may have it by then); a row another worker
took over is dropped from the pass. Hosts' clocks must agree to well within the lease (NTP).

Delivery guarantee. Rows are marked `sent` in a short transaction right after their wave's API
calls returned (one transaction per WeCom batch call). The WeChat and WeCom send APIs have no
idempotency key, so a crash between the API's success and that commit sends those rows again once
their lease lapses: delivery is at-least-once, with a window of one wave (at most
OUTBOX_CONCURRENCY calls; up to 1,000 users for a WeCom batch) per worker crash. The same holds for a call still running when its worker
lost the database for longer than the lease.

Official-account users (`via`: custom, subscribe or template): the ways out in WECHAT_DELIVERY_ORDER,
scheduler/wechat_delivery.py. A row no way takes ends `undelivered`, saying why. Rows of a person who
unfollowed end `unfollowed` without a call; 43004 (require subscribe) marks the person unfollowed as the
event would; 43101 (refused) ends a row `blocked`.

WeCom users (`via` = wecom): rows with the same text are sent in one call of up to 1,000 userids;
userids the API reports in `invaliduser` fail, the others are sent. WeCom silently drops messages
beyond 30 a minute or 1,000 an hour per member, so a row over either limit (counting sent rows with
via='wecom' in the window) is put back with `next_attempt_at` when the window allows it. Two
workers may each let one message through at the edge of a window; the limits are WeCom's, not
a hard rule of ours.

Simulated people (the chat simulator) are marked sent with via='simulator' without any call.

Failures: refused tokens are refreshed once inside the API client. Rate limits (-1 system busy,
45009 quota, 45033 concurrency) pause the channel in this worker (45009 for 10 minutes, the others
for 30 seconds; a template quota also pauses customer-service sends, one pause per channel) and
put its rows back for then without counting an attempt. Permanent codes fail the row; anything else is retried with backoff
up to MAX_ATTEMPTS.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

import httpx
from sqlalchemy import ColumnElement, Select, Table, bindparam, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.metrics import OUTBOX_FAILURES, OUTBOX_SENT
from bot.outbound.api import RATE_LIMITS, ApiError, WeChatApi, WeComApi
from bot.services import delivery
from bot.services.outbox import BLOCKED, FAILED, PENDING, SENDING, SENT, UNDELIVERED, UNFOLLOWED
from bot.services.privacy import mask_id
from scheduler.wechat_delivery import Unreachable, WeChatWays
from storage.db import transaction
from storage.models import OutboxMessage, Person

log = logging.getLogger(__name__)

BATCH = 1000  # WeCom and simulator rows claimed per pass: one full WeCom call
ONE_BY_ONE = 100  # official-account rows claimed per pass: a call each, so workers share a broadcast
CONCURRENCY = 1  # official-account calls in flight at once per worker (OUTBOX_CONCURRENCY's default)
DRY_PAUSE = 1.0  # seconds a worker does not ask for a class of rows that had none due during a backlog
MAX_ATTEMPTS = 6
BACKOFF = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
)
LEASE = timedelta(seconds=10)  # a claimed row's deadline; a `sending` row past it goes back to the queue
RENEW_EVERY = 2.0  # seconds between renewals while a pass works
SAFE_LEFT = LEASE / 2  # send a claimed row only while at least this much of the lease is certainly left
PERMANENT = frozenset({40003, 43004, 43101, 60020, 81013})
NOT_FOLLOWING = 43004  # require subscribe: the person unfollowed the account
RATE_BACKOFF = {45009: timedelta(minutes=10)}
DEFAULT_RATE_BACKOFF = timedelta(seconds=30)

WECOM_BATCH = 1000
WECOM_LIMITS = ((timedelta(minutes=1), 30), (timedelta(hours=1), 1000))

_OUTBOX = cast(Table, OutboxMessage.__table__)
# An update of rows this worker claimed (executemany with row_id and claimed = the attempts it saw): a row
# whose lease lapsed and another worker took again has more attempts, and is left alone.
_UPDATE_CLAIMED = _OUTBOX.update().where(
    _OUTBOX.c.id == bindparam("row_id"), _OUTBOX.c.attempts == bindparam("claimed"), _OUTBOX.c.status == SENDING
)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed row with what sending it needs."""

    id: int
    attempts: int  # after the claim's increment: the fencing token
    person_id: int
    channel: str
    external_id: str
    simulated: bool
    last_inbound_at: datetime | None
    unfollowed: bool  # the person unfollowed the account: nothing is sent
    kind: str
    payload: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.payload.get("text", ""))


class OutboxWorker:
    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Clock,
        wechat: WeChatApi,
        wecom: WeComApi,
        *,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.wechat = wechat
        self.wecom = wecom
        self.concurrency = max(1, concurrency)
        self._dry_until: dict[bool, float] = {}  # batched? -> monotonic time to ask for that class again
        self.wake = threading.Event()
        self._paused: dict[str, datetime] = {}  # channel -> until, after a rate-limit answer

    def run_once(self, limit: int = BATCH) -> int:
        """Send what is due now. Returns how many rows were handled."""
        claimed = self._claim(limit)
        gone = [j for j in claimed if j.unfollowed]
        if gone:
            self._mark_final(gone, UNFOLLOWED, delivery.UNFOLLOWED_REASON)
        jobs = [j for j in claimed if not j.unfollowed]
        if not jobs:
            return len(claimed)
        with _Lease(self.factory, self.clock, jobs) as lease:
            simulated = [j for j in jobs if j.simulated]
            if simulated:
                self._mark_sent(simulated, "simulator")
            # WeCom first: a few batch calls, where the official account needs one call per row.
            self._send_wecom([j for j in jobs if not j.simulated and j.channel == "wecom"], lease)
            self._send_wechat([j for j in jobs if not j.simulated and j.channel != "wecom"], lease)
        return len(claimed)

    # --- official account ----------------------------------------------------------------------

    def _send_wechat(self, jobs: list[Job], lease: _Lease) -> None:
        ways = WeChatWays(self.factory, self.clock, self.wechat, jobs)
        waiting = list(jobs)
        size = 1
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="outbox-send") as pool:
            while waiting:
                if self._is_paused("wechat"):
                    self._put_back(waiting, self._paused["wechat"], None)
                    return
                wave, waiting = _wave(waiting, size)
                wave = [j for j in wave if lease.holds(j)]
                if len(wave) == 1:
                    self._record(wave, [_attempt(ways, wave[0])])
                elif wave:
                    self._record(wave, list(pool.map(lambda job: _attempt(ways, job), wave)))
                size = min(2 * size, self.concurrency)

    def _record(self, wave: list[Job], outcomes: list[_Outcome]) -> None:
        """Write a wave's outcomes: the sent rows in one transaction, the rest as each kind wants."""
        sent: list[tuple[Job, str, str | None]] = []
        fatal: BaseException | None = None
        for job, (kind, value) in zip(wave, outcomes, strict=True):
            if kind == "sent":
                via, msgid = cast(tuple[str, str | None], value)
                sent.append((job, via, msgid))
        self._mark_sent_each(sent)
        for job, (kind, value) in zip(wave, outcomes, strict=True):
            if kind == "api":
                self._api_failed([job], "wechat", cast(ApiError, value))
            elif kind == "http":
                self._http_failed([job], "wechat", cast(httpx.HTTPError, value))
            elif kind == "unreachable":
                _count_failures([job], "wechat", "undelivered")
                self._mark_final([job], UNDELIVERED, str(value))
            elif kind == "raised" and fatal is None:
                fatal = cast(BaseException, value)
        if fatal is not None:
            raise fatal  # what the wave sent is recorded first

    # --- WeCom ---------------------------------------------------------------------------------

    def _send_wecom(self, jobs: list[Job], lease: _Lease) -> None:
        ready, later = self._throttle(jobs)
        for at, delayed in later.items():
            self._put_back(delayed, at, None)
        for text, batch in _batches(ready):
            if self._is_paused("wecom"):
                self._put_back(batch, self._paused["wecom"], None)
                continue
            batch = [j for j in batch if lease.holds(j)]
            if not batch:
                continue
            try:
                invalid = self.wecom.send_text([j.external_id for j in batch], text)
            except ApiError as exc:
                self._api_failed(batch, "wecom", exc)
            except httpx.HTTPError as exc:
                self._http_failed(batch, "wecom", exc)
            else:
                self._mark_sent([j for j in batch if j.external_id not in invalid], "wecom")
                unknown = [j for j in batch if j.external_id in invalid]
                if unknown:
                    _count_failures(unknown, "wecom", "invaliduser")
                    self._mark_failed(unknown, "invaliduser: 企业微信中找不到此成员", permanent=True)

    def _throttle(self, jobs: list[Job]) -> tuple[list[Job], dict[datetime, list[Job]]]:
        """Split rows into those WeCom will deliver now and those to delay (by when they may go)."""
        now = self.clock.now()
        longest = max(window for window, _ in WECOM_LIMITS)
        sent: defaultdict[int, list[datetime]] = defaultdict(list)
        ids = sorted({j.person_id for j in jobs})
        with self.factory() as session:
            for chunk in _chunks(ids, 1000):
                rows = session.execute(
                    select(OutboxMessage.person_id, OutboxMessage.sent_at).where(
                        OutboxMessage.person_id.in_(chunk),
                        OutboxMessage.via == "wecom",
                        OutboxMessage.status == SENT,
                        OutboxMessage.sent_at > now - longest,
                    )
                )
                for person_id, sent_at in rows:
                    if sent_at is not None:
                        sent[person_id].append(sent_at)
        for times in sent.values():
            times.sort()
        ready: list[Job] = []
        later: defaultdict[datetime, list[Job]] = defaultdict(list)
        for job in jobs:
            times = sent[job.person_id]
            allowed_at = now
            for window, limit in WECOM_LIMITS:
                recent = [t for t in times if t > now - window]
                if len(recent) >= limit:
                    # The window allows one more once the send `limit` places back has left it.
                    allowed_at = max(allowed_at, recent[len(recent) - limit] + window)
            if allowed_at > now:
                later[allowed_at].append(job)
            else:
                ready.append(job)
                times.append(now)
        return ready, dict(later)

    # --- claiming and recording ----------------------------------------------------------------

    def _claim(self, limit: int) -> list[Job]:
        now = self.clock.now()
        paused = [channel for channel in list(self._paused) if self._is_paused(channel)]
        in_batches = or_(Person.channel == "wecom", Person.simulated)
        with transaction(self.factory) as session:
            # Rows whose lease lapsed (their worker died) go back to the queue.
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == SENDING, OutboxMessage.next_attempt_at < now)
                .values(status=PENDING)
            )
            rows: list[Any] = []
            asked: dict[bool, int] = {}  # batched? -> how many rows of that class a full claim takes
            for batched, which, most in ((True, in_batches, limit), (False, ~in_batches, min(limit, ONE_BY_ONE))):
                if self._dry_until.get(batched, 0.0) <= time.monotonic():
                    asked[batched] = most
                    rows.extend(session.execute(self._due(now, paused, which, most)).all())
            # A class that came back empty while the other filled its claim: its query walked every due
            # row of the other (a broadcast's tens of thousands) for nothing, and would on every pass;
            # this worker asks for it again DRY_PAUSE seconds later.
            counts = Counter(_is_batched(r) for r in rows)
            for batched in asked:
                if counts[batched]:
                    self._dry_until.pop(batched, None)
                elif (not batched) in asked and counts[not batched] >= asked[not batched]:
                    self._dry_until[batched] = time.monotonic() + DRY_PAUSE
            if rows:
                for chunk in _chunks([r.id for r in rows], 1000):
                    session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id.in_(chunk))
                        .values(status=SENDING, next_attempt_at=now + LEASE, attempts=OutboxMessage.attempts + 1)
                    )
        return [
            Job(
                id=r.id,
                attempts=r.attempts + 1,
                person_id=r.person_id,
                channel=r.channel,
                external_id=r.external_id,
                simulated=r.simulated,
                last_inbound_at=r.last_inbound_at,
                unfollowed=r.unfollowed_at is not None,
                kind=r.kind,
                payload=dict(r.payload),
            )
            for r in rows
        ]

    @staticmethod
    def _due(now: datetime, paused: list[str], which: ColumnElement[bool], limit: int) -> Select[Any]:
        """Due rows of these recipients, oldest first, locked for this claim (others skip them)."""
        query = (
            select(
                OutboxMessage.id,
                OutboxMessage.attempts,
                OutboxMessage.person_id,
                OutboxMessage.kind,
                OutboxMessage.payload,
                Person.channel,
                Person.external_id,
                Person.simulated,
                Person.last_inbound_at,
                Person.unfollowed_at,
            )
            .join(Person, Person.id == OutboxMessage.person_id)
            .where(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now, which)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=OutboxMessage)
        )
        if paused:
            query = query.where(Person.channel.not_in(paused))
        return query

    def _mark_sent(self, jobs: Sequence[Job], via: str, msgid: str | None = None) -> None:
        """Rows the API took; `msgid` (one row's template send) is what WeChat's report will name."""
        self._mark_sent_each([(job, via, msgid) for job in jobs])

    def _mark_sent_each(self, sent: Sequence[tuple[Job, str, str | None]]) -> None:
        """Rows the API took, each with its way out and msgid, in one transaction."""
        if not sent:
            return
        for (channel, via), count in Counter((j.channel, via) for j, via, _ in sent).items():
            OUTBOX_SENT.labels(channel, via).inc(count)
        now = self.clock.now()
        with transaction(self.factory) as session:
            session.connection().execute(
                _UPDATE_CLAIMED.values(
                    status=SENT, sent_at=now, last_error=None, via=bindparam("sent_via"), msgid=bindparam("sent_msgid")
                ),
                [
                    {"row_id": j.id, "claimed": j.attempts, "sent_via": via, "sent_msgid": msgid}
                    for j, via, msgid in sent
                ],
            )

    def _http_failed(self, jobs: Sequence[Job], channel: str, exc: httpx.HTTPError) -> None:
        """A call that got no API answer (timeout, dropped connection): the rows wait for the backoff."""
        kind = type(exc).__name__
        # The path, not the URL: the query string carries the access token.
        log.warning("outbox %s call for %d row(s) failed: %s on %s", channel, len(jobs), kind, _path_of(exc))
        _count_failures(jobs, channel, kind)
        self._mark_failed(jobs, kind, permanent=False)

    def _mark_failed(self, jobs: Sequence[Job], error: str, *, permanent: bool) -> None:
        """Fail rows for good (permanent, or out of attempts) or queue them again after the backoff."""
        now = self.clock.now()
        params = []
        for job in jobs:
            final = permanent or job.attempts >= MAX_ATTEMPTS
            retry_at = now + BACKOFF[min(job.attempts - 1, len(BACKOFF) - 1)]
            params.append(
                {
                    "row_id": job.id,
                    "claimed": job.attempts,
                    "new_status": FAILED if final else PENDING,
                    "retry_at": now if final else retry_at,
                }
            )
            if final:
                log.warning("outbox %s to %s failed for good: %s", job.id, mask_id(str(job.person_id)), error)
        with transaction(self.factory) as session:
            session.connection().execute(
                _UPDATE_CLAIMED.values(
                    status=bindparam("new_status"), next_attempt_at=bindparam("retry_at"), last_error=error[:500]
                ),
                params,
            )

    def _mark_final(self, jobs: Sequence[Job], status: str, error: str) -> None:
        """End rows with a final status other than sent or failed (unfollowed, blocked, undelivered)."""
        now = self.clock.now()
        with transaction(self.factory) as session:
            session.connection().execute(
                _UPDATE_CLAIMED.values(status=status, next_attempt_at=now, last_error=error[:500]),
                [{"row_id": j.id, "claimed": j.attempts} for j in jobs],
            )

    def _put_back(self, jobs: Sequence[Job], at: datetime, error: str | None) -> None:
        """Return rows to the queue for `at` without counting this claim as an attempt."""
        if not jobs:
            return
        with transaction(self.factory) as session:
            session.connection().execute(
                _UPDATE_CLAIMED.values(
                    status=PENDING, next_attempt_at=at, attempts=_OUTBOX.c.attempts - 1, last_error=error
                ),
                [{"row_id": j.id, "claimed": j.attempts} for j in jobs],
            )

    def _api_failed(self, jobs: list[Job], channel: str, exc: ApiError) -> None:
        _count_failures(jobs, channel, str(exc.code))
        if exc.code in RATE_LIMITS:
            until = self.clock.now() + RATE_BACKOFF.get(exc.code, DEFAULT_RATE_BACKOFF)
            self._paused[channel] = until
            log.warning("%s rate-limited (%s); pausing until %s", channel, exc.code, until.isoformat())
            self._put_back(jobs, until, str(exc))
            return
        if exc.code == NOT_FOLLOWING and channel == "wechat":
            # The unfollow event we did not get: nothing more is tried for them until they follow again.
            self._unfollowed(jobs)
            self._mark_final(jobs, UNFOLLOWED, str(exc))
            return
        if exc.code == delivery.REFUSED:
            self._mark_final(jobs, BLOCKED, str(exc))
            return
        self._mark_failed(jobs, str(exc), permanent=exc.code in PERMANENT)

    def _unfollowed(self, jobs: Sequence[Job]) -> None:
        now = self.clock.now()
        with transaction(self.factory) as session:
            session.execute(
                update(Person)
                .where(Person.id.in_({j.person_id for j in jobs}), Person.unfollowed_at.is_(None))
                .values(unfollowed_at=now)
            )

    def _is_paused(self, channel: str) -> bool:
        until = self._paused.get(channel)
        if until is None:
            return False
        if until <= self.clock.now():
            del self._paused[channel]
            return False
        return True


class _Lease:
    """A pass's lease on its rows: a thread renews their deadline every RENEW_EVERY seconds while the
    pass works, notes rows another worker took over, and `holds` answers whether a row may still be sent."""

    def __init__(self, factory: sessionmaker[Session], clock: Clock, jobs: list[Job]) -> None:
        self.factory = factory
        self.clock = clock
        self.claimed = {j.id: j.attempts for j in jobs}
        self.renewed_at = clock.now()  # the claim set the deadline LEASE after this
        self.lost: set[int] = set()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="outbox-lease", daemon=True)

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        # Bounded: a renewal hung on a dead connection must not stall the worker (it renews nothing more).
        self._thread.join(timeout=30)

    def holds(self, job: Job) -> bool:
        """Whether `job` is still ours with enough lease left to send it."""
        with self._lock:
            fresh = self.clock.now() - self.renewed_at < LEASE - SAFE_LEFT
            return fresh and job.id not in self.lost

    def _keep(self) -> None:
        while not self._done.wait(RENEW_EVERY):
            try:
                self._renew()
            except Exception as exc:  # the database is away: stop vouching once the lease runs short
                log.warning("outbox lease renewal failed: %s", type(exc).__name__)

    def _renew(self) -> None:
        now = self.clock.now()
        with self._lock:
            ids = [row_id for row_id in self.claimed if row_id not in self.lost]
        with transaction(self.factory) as session:
            for chunk in _chunks(ids, 1000):
                # SKIP LOCKED: a row locked now is being finished by this pass or released by a worker that
                # found its lease lapsed; renewal never waits, so it cannot deadlock with either.
                rows = session.execute(
                    select(OutboxMessage.id, OutboxMessage.attempts, OutboxMessage.status)
                    .where(OutboxMessage.id.in_(chunk))
                    .with_for_update(skip_locked=True)
                ).all()
                ours = {r.id for r in rows if r.status == SENDING and r.attempts == self.claimed[r.id]}
                if ours:
                    session.execute(
                        update(OutboxMessage).where(OutboxMessage.id.in_(ours)).values(next_attempt_at=now + LEASE)
                    )
                with self._lock:
                    # Rows this pass finished land here too, harmlessly: they are not looked at again.
                    self.lost.update(r.id for r in rows if r.id not in ours)
        with self._lock:
            self.renewed_at = now


_Outcome = tuple[str, object]  # ("sent", (via, msgid)) | ("api" | "http" | "unreachable" | "raised", exception)


def _attempt(ways: WeChatWays, job: Job) -> _Outcome:
    """One row's call, its outcome as a value (a wave's calls run in threads; the pass records them)."""
    try:
        return "sent", ways.deliver(job)
    except ApiError as exc:
        return "api", exc
    except httpx.HTTPError as exc:
        return "http", exc
    except Unreachable as exc:
        return "unreachable", exc
    except BaseException as exc:  # recorded after the wave's sends, then raised in the pass
        return "raised", exc


def _is_batched(row: Any) -> bool:
    return bool(row.channel == "wecom" or row.simulated)


def _wave(jobs: list[Job], size: int) -> tuple[list[Job], list[Job]]:
    """Up to `size` rows for distinct people, in queue order; and the rows left, in order."""
    wave: list[Job] = []
    rest: list[Job] = []
    people: set[int] = set()
    for job in jobs:
        if len(wave) < size and job.person_id not in people:
            wave.append(job)
            people.add(job.person_id)
        else:
            rest.append(job)
    return wave, rest


def _path_of(exc: httpx.HTTPError) -> str:
    try:
        return exc.request.url.path
    except RuntimeError:  # an error raised before a request was made has none
        return "?"


def _count_failures(jobs: Sequence[Job], channel: str, code: str) -> None:
    OUTBOX_FAILURES.labels(channel, code).inc(len(jobs))


def _batches(jobs: list[Job]) -> Iterator[tuple[str, list[Job]]]:
    """Rows with the same text, at most WECOM_BATCH per call and each userid once per call."""
    groups: dict[str, list[tuple[list[Job], set[str]]]] = {}
    for job in jobs:
        calls = groups.setdefault(job.text, [])
        for call, users in calls:
            if len(call) < WECOM_BATCH and job.external_id not in users:
                call.append(job)
                users.add(job.external_id)
                break
        else:
            calls.append(([job], {job.external_id}))
    for text, calls in groups.items():
        for call, _users in calls:
            yield text, call


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
