"""What both callback endpoints share: raw query parsing, body limits, freshness, the reply deadline."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

from fastapi import HTTPException, Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.clock import Clock
from bot.incoming import Incoming
from bot.pipeline import ERROR_REPLY, Outcome, Pipeline
from bot.services.privacy import mask_id

log = logging.getLogger(__name__)


def raw_query(request: Request) -> dict[str, str]:
    """Query parameters without turning `+` into a space: base64 echostr and signatures keep theirs."""
    params: dict[str, str] = {}
    for part in request.url.query.split("&"):
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


def check_fresh(timestamp: str, clock: Clock, max_age: int) -> None:
    """Refuse callbacks signed more than `max_age` seconds from now (0 turns the check off)."""
    # isdigit() alone lets through digits int() refuses ("²") or reads oddly ("١٢"): ASCII only.
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        raise HTTPException(status_code=400, detail="bad timestamp")
    if max_age and abs(clock.now().timestamp() - int(timestamp)) > max_age:
        raise HTTPException(status_code=403, detail="stale timestamp")


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


GIL_SWITCH_INTERVAL = 0.0001


class ReplyRunner:
    """Runs the pipeline off the event loop and keeps WeChat's 5-second promise.

    If the reply is not ready within `deadline` seconds, the callback answers `success` at once and
    the reply, when ready, goes out through the customer-service API instead.
    """

    def __init__(self, pipeline: Pipeline, deadline: float, workers: int = 32) -> None:
        self.pipeline = pipeline
        self.deadline = deadline
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pipeline")
        # The pipeline threads and the event loop share one GIL. With the default 5 ms switch interval
        # a pipeline thread holding SQLite's write lock (or a person's row lock) waits up to 5 ms for
        # the GIL after every statement while HTTP work runs, and every other writer waits with it.
        # 0.1 ms: p99 about halved and throughput up on the 2-worker bench (bench/README.md).
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL))

    async def run(self, msg: Incoming) -> str:
        gave_up = threading.Event()
        lock = threading.Lock()

        def work() -> Outcome:
            outcome = self.pipeline.handle(msg)
            with lock:
                late = gave_up.is_set()
            if late and not outcome.duplicate:
                self.pipeline.deliver_late(msg, outcome.reply)
            return outcome

        future = asyncio.get_running_loop().run_in_executor(self.executor, work)
        try:
            outcome = await self._within_deadline(future, gave_up, lock)
        except (DBAPIError, PoolTimeout):
            log.exception("database unavailable while handling a message from %s", mask_id(msg.user))
            raise HTTPException(status_code=503, detail="database unavailable") from None
        except Exception:
            log.exception("failed to handle a %s message from %s", msg.kind, mask_id(msg.user))
            return ERROR_REPLY
        return "" if outcome is None else outcome.reply

    async def _within_deadline(
        self, future: asyncio.Future[Outcome], gave_up: threading.Event, lock: threading.Lock
    ) -> Outcome | None:
        # asyncio.wait, unlike wait_for, never cancels what it waits for: no shield (and its extra
        # future and callbacks) is needed to keep the work going past the deadline.
        done, _ = await asyncio.wait((future,), timeout=self.deadline)
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


def _log_failure(future: asyncio.Future[Outcome]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("late message failed: %r", future.exception())
