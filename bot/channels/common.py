"""What both callback endpoints share: raw query parsing, body limits, freshness (and clock skew), the
reply deadline."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from urllib.parse import unquote

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.requests import Request

from bot.clock import Clock
from bot.incoming import Incoming
from bot.metrics import REFUSED
from bot.pipeline import ERROR_REPLY, Outcome, Pipeline
from bot.services.nonces import NonceReused, SignedPair
from bot.services.privacy import mask_id

log = logging.getLogger(__name__)


def raw_query(request: Request) -> dict[str, str]:
    """Query parameters without turning `+` into a space: base64 echostr and signatures keep theirs."""
    params: dict[str, str] = {}
    for part in request.scope["query_string"].decode("latin-1").split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        params.setdefault(unquote(key), unquote(value))
    return params


def require(params: dict[str, str], *names: str) -> list[str]:
    missing = [name for name in names if not params.get(name)]
    if missing:
        raise HTTPException(status_code=400, detail=f"missing {', '.join(missing)}")
    return [params[name] for name in names]


SKEW_LOG_EVERY = timedelta(minutes=1)
SKEW_REPORT_FOR = timedelta(minutes=15)


class Freshness:
    """The signature window (SIGNATURE_MAX_AGE), and what the callbacks it refuses say about our clock.

    A server clock off by more than the window turns every callback into a 403 while the process
    looks healthy. So a refusal is counted, the measured skew logged (at most once a minute, nothing
    about the sender) and shown by /healthz until a callback passes again. Only correctly signed
    callbacks get here, so nobody without the token can raise the alarm.
    """

    def __init__(self, clock: Clock, max_age: int) -> None:
        self.clock = clock
        self.max_age = max_age
        self._stale: tuple[int, datetime] | None = None  # skew of the last refused callback, and when
        self._logged_at: datetime | None = None

    def check(self, channel: str, timestamp: str) -> None:
        """Refuse a callback signed more than the window from now (0 turns the check off)."""
        # isdigit() alone lets through digits int() refuses ("²") or reads oddly ("١٢"): ASCII only.
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
            raise HTTPException(status_code=400, detail="bad timestamp")
        now = self.clock.now()
        skew = round(now.timestamp() - int(timestamp))  # > 0: our clock is ahead of the sender's
        if self.max_age and abs(skew) > self.max_age:
            self._refused(channel, skew, now)
            raise HTTPException(status_code=403, detail="stale timestamp")
        self._stale = None

    def _refused(self, channel: str, skew: int, now: datetime) -> None:
        REFUSED.labels(channel, "stale_timestamp").inc()
        self._stale = (skew, now)
        if self._logged_at is not None and now - self._logged_at < SKEW_LOG_EVERY:
            return
        self._logged_at = now
        log.warning(
            "clock skew %+d s: a signed %s callback was refused (403), its timestamp outside SIGNATURE_MAX_AGE=%d; "
            "if every callback is refused, check this server's clock (NTP)",
            skew,
            channel,
            self.max_age,
        )

    def report(self) -> dict[str, object]:
        """For /healthz: the skew the latest callbacks were refused for, if none has passed since."""
        stale = self._stale
        if stale is None or self.clock.now() - stale[1] > SKEW_REPORT_FOR:
            return {}
        skew, _when = stale
        return {
            "clock_skew_seconds": skew,
            "warning": f"最近的回调因时间戳与本机时钟相差 {abs(skew)} 秒（超过 SIGNATURE_MAX_AGE={self.max_age}）被拒绝，"
            "请检查服务器时钟同步（NTP）。",
        }


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 400 past `limit` bytes without reading the rest into memory."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise HTTPException(status_code=400, detail="body too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status_code=400, detail="body too large")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise HTTPException(status_code=400, detail="empty body")
    return body


# How long a thread may keep the GIL while another waits for it (Python's default: 5 ms); see ReplyRunner.
GIL_SWITCH_INTERVAL = {"sqlite": 0.0001, "postgresql": 0.001}
# The scope key where the callback front (bot/channels/front.py) notes when a callback arrived.
ARRIVED = "shangliang.arrived"
# A callback whose yield to the loop took longer than this finds the loop overloaded: its step goes to
# the pipeline thread, where the reply deadline holds however long that queue. (A guard: in the
# overloaded open-loop bench the waiting happened before callbacks reached the application, where it
# cannot be seen from here; bench/README.md, issue 12. A cap on queued steps instead sent the
# closed-loop bench's 50 residents half to the thread, and mixing the two paths cost a third more CPU.)
LOOP_LAG_LIMIT = 0.5


class ReplyRunner:
    """Runs the pipeline and keeps WeChat's 5-second promise.

    If the reply is not ready within `deadline` seconds, the callback answers `success` at once and
    the reply, when ready, goes out through the customer-service API instead.

    On SQLite (`at_once`) a message is first tried on the event loop: a transaction of a few statements
    costs less than handing it to a thread and back (~0.1 ms, and a GIL hand-off that stretched the tail
    under load). Only when another writer holds the file right now (`Pipeline.handle_now` says so
    without waiting) does it go to the pipeline thread, where the deadline is kept as above. A step
    that ran on the loop and still took longer than the deadline (no lock wait, so a pathologically
    slow step) is answered `success` too, its reply queued for the customer-service API. The deadline
    counts from the callback's arrival (`since`), and a loop lagging by LOOP_LAG_LIMIT sends steps to
    the thread.
    """

    def __init__(self, pipeline: Pipeline, deadline: float, workers: int = 32, *, at_once: bool = False) -> None:
        self.pipeline = pipeline
        self.deadline = deadline
        self.at_once = at_once
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pipeline")
        # The pipeline threads and the event loop share one GIL. With the default 5 ms switch interval
        # a pipeline thread holding SQLite's write lock waits up to 5 ms for the GIL after every
        # statement while HTTP work runs, and every other writer waits with it: 0.1 ms halved p99 on
        # the 2-worker bench. On PostgreSQL every message is in a thread and a row lock holds up only
        # that person's next message; there 0.1 ms had the loop and the threads hand the GIL back and
        # forth all the time, and 1 ms costs 10-14 % less CPU per message (bench/README.md).
        interval = GIL_SWITCH_INTERVAL["sqlite" if at_once else "postgresql"]
        sys.setswitchinterval(min(sys.getswitchinterval(), interval))

    async def run(self, msg: Incoming, *, since: float | None = None, pair: SignedPair | None = None) -> str:
        """The passive reply, or "" (answered `success`, the reply queued) past the deadline.

        `since` is when the callback arrived (`time.perf_counter()`), if known: time spent waiting
        for the event loop before this counts against the deadline too. `pair`: plaintext mode's
        replay guard (`Pipeline.handle`); `NonceReused` passes through.
        """
        started = time.perf_counter() if since is None else since
        if self.at_once:
            reply = await self._on_the_loop(msg, pair, started)
            if reply is not None:
                return reply
        return await self._in_thread(msg, pair, started)

    async def _on_the_loop(self, msg: Incoming, pair: SignedPair | None, started: float) -> str | None:
        """The step on the event loop; None: it goes to the pipeline thread (the file is busy, or it
        waited its deadline)."""
        # Yield once first: the step then starts behind the callbacks already waiting on the loop
        # (other connections' requests), not ahead of them. Measured (bench/README.md, issue 12):
        # at saturation, without it, a few callbacks waited seconds (p99 1.6 s, slowest 2.5 s);
        # with it p99 0.2-0.8 s, and no more CPU. How long the yield took says how busy the loop is.
        yielded = time.perf_counter()
        await asyncio.sleep(0)
        now = time.perf_counter()
        if now - yielded > LOOP_LAG_LIMIT or now - started > self.deadline:
            return None  # overloaded: the thread, with the deadline (`success` at once if it has passed)
        try:
            outcome = self.pipeline.handle_now(msg, pair)
        except NonceReused:
            raise
        except (DBAPIError, PoolTimeout):
            log.exception("database unavailable while handling a message from %s", mask_id(msg.user))
            raise HTTPException(status_code=503, detail="database unavailable") from None
        except Exception:
            log.exception("failed to handle a %s message from %s", msg.kind, mask_id(msg.user))
            return ERROR_REPLY
        if outcome is not None:
            if time.perf_counter() - started <= self.deadline or outcome.duplicate:
                return outcome.reply
            # Too late for a passive reply: the customer-service API takes it (in the thread: it may
            # wait for the write lock).
            self.executor.submit(self.pipeline.deliver_late, msg, outcome.reply).add_done_callback(_log_late)
            return ""
        return None

    async def _in_thread(self, msg: Incoming, pair: SignedPair | None, started: float) -> str:
        gave_up = threading.Event()
        lock = threading.Lock()

        def work() -> Outcome:
            outcome = self.pipeline.handle(msg, pair)
            with lock:
                late = gave_up.is_set()
            if late and not outcome.duplicate:
                self.pipeline.deliver_late(msg, outcome.reply)
            return outcome

        future = asyncio.get_running_loop().run_in_executor(self.executor, work)
        try:
            outcome = await self._within_deadline(future, gave_up, lock, started)
        except NonceReused:
            raise
        except (DBAPIError, PoolTimeout):
            log.exception("database unavailable while handling a message from %s", mask_id(msg.user))
            raise HTTPException(status_code=503, detail="database unavailable") from None
        except Exception:
            log.exception("failed to handle a %s message from %s", msg.kind, mask_id(msg.user))
            return ERROR_REPLY
        return "" if outcome is None else outcome.reply

    async def _within_deadline(
        self, future: asyncio.Future[Outcome], gave_up: threading.Event, lock: threading.Lock, started: float
    ) -> Outcome | None:
        # asyncio.wait, unlike wait_for, never cancels what it waits for: no shield (and its extra
        # future and callbacks) is needed to keep the work going past the deadline.
        left = max(0.0, self.deadline - (time.perf_counter() - started))
        done, _ = await asyncio.wait((future,), timeout=left)
        if done:
            return future.result()
        with lock:
            if not future.done():
                gave_up.set()
        if gave_up.is_set():
            future.add_done_callback(_log_failure)
            return None
        return await future

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=False)


def _log_late(future: Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("late reply could not be queued: %r", future.exception())


def _log_failure(future: asyncio.Future[Outcome]) -> None:
    if future.cancelled() or future.exception() is None:
        return
    if isinstance(future.exception(), NonceReused):
        log.warning("a late plaintext callback reused a nonce: refused, nothing done")
    else:
        log.error("late message failed: %r", future.exception())
