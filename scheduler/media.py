"""Fetching residents' photos before WeChat forgets them (temporary media are kept three days).

Every background process runs a `MediaFetcher` on a thread of its own (scheduler/runner.py), beside the
outbox worker. Like the outbox, due rows of `media_files` are claimed in a short transaction (`FOR
UPDATE SKIP LOCKED` on PostgreSQL, so processes share the work) and marked `fetching` with `attempts`
incremented and a deadline (LEASE) in `next_attempt_at`; a row still `fetching` past its deadline
belonged to a process that died and goes back to the queue. The outcome is written only while the
claim is still ours (`attempts` is the fencing token).

Outcomes: the photo's bytes and type (sniffed from the bytes: only images are kept) → `stored`.
40007 (the media is unknown or expired), a file over MAX_BYTES or one that is not an image → `failed`
at once, with a reason staff read. Anything else (the network, rate limits, a 5xx) is retried with
BACKOFF, MAX_ATTEMPTS in all (about a day, well inside WeChat's three), then `failed`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import filetype
import httpx
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.metrics import MEDIA_FETCHES
from bot.outbound.api import ApiError, Media, MediaTooLarge, WeChatApi, WeComApi
from bot.services.media import IMAGE_TYPES, MAX_BYTES
from storage.db import transaction
from storage.models import MediaFile

log = logging.getLogger(__name__)

BATCH = 4  # rows claimed per pass: a download can take seconds
LEASE = timedelta(minutes=3)  # longer than a download may take (bot/outbound/api.py MEDIA_DEADLINE)
MAX_ATTEMPTS = 8
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
)
EXPIRED = frozenset({40007})  # invalid media_id: unknown, or past WeChat's three days
GONE = "微信上的原图已过期或无效（40007），未能保存"
NOT_IMAGE = "收到的文件不是图片，未保存"
TOO_LARGE = f"照片超过 {MAX_BYTES // (1024 * 1024)} MB，未保存"

_FILES = cast(Table, MediaFile.__table__)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    attempts: int  # after the claim's increment: the fencing token
    channel: str
    media_id: str


class MediaFetcher:
    def __init__(self, factory: sessionmaker[Session], clock: Clock, wechat: WeChatApi, wecom: WeComApi) -> None:
        self.factory = factory
        self.clock = clock
        self.apis = {"wechat": wechat, "wecom": wecom}
        self.wake = threading.Event()

    def run_once(self, limit: int = BATCH) -> int:
        """Fetch what is due now; how many rows were handled."""
        claimed = self._claim(limit)
        for row in claimed:
            self._fetch(row)
        return len(claimed)

    def _claim(self, limit: int) -> list[Claimed]:
        now = self.clock.now()
        with transaction(self.factory) as session:
            session.execute(
                update(MediaFile)
                .where(MediaFile.status == "fetching", MediaFile.next_attempt_at < now)
                .values(status="pending")
            )
            rows = session.execute(
                select(MediaFile.id, MediaFile.attempts, MediaFile.channel, MediaFile.media_id)
                .where(MediaFile.status == "pending", MediaFile.next_attempt_at <= now)
                .order_by(MediaFile.next_attempt_at, MediaFile.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if rows:
                session.execute(
                    update(MediaFile)
                    .where(MediaFile.id.in_([r.id for r in rows]))
                    .values(status="fetching", attempts=MediaFile.attempts + 1, next_attempt_at=now + LEASE)
                )
        return [Claimed(r.id, r.attempts + 1, r.channel, r.media_id) for r in rows]

    def _fetch(self, row: Claimed) -> None:
        api = self.apis.get(row.channel)
        if api is None:
            self._fail(row, f"未知渠道 {row.channel}", permanent=True)
            return
        try:
            got = api.get_media(row.media_id, max_bytes=MAX_BYTES)
        except ApiError as exc:
            self._fail(row, GONE if exc.code in EXPIRED else f"获取失败（{exc.code}）", permanent=exc.code in EXPIRED)
        except MediaTooLarge:
            self._fail(row, TOO_LARGE, permanent=True)
        except httpx.HTTPError as exc:
            self._fail(row, f"获取失败（{type(exc).__name__}）", permanent=False)
        else:
            kind = _image_type(got)
            if kind is None:
                self._fail(row, NOT_IMAGE, permanent=True)
            else:
                self._store(row, got.content, kind)

    def _store(self, row: Claimed, content: bytes, kind: str) -> None:
        MEDIA_FETCHES.labels(row.channel, "stored").inc()
        now = self.clock.now()
        self._finish(
            row,
            status="stored",
            content=content,
            content_type=kind,
            size=len(content),
            fetched_at=now,
            last_error=None,
            next_attempt_at=now,
        )

    def _fail(self, row: Claimed, reason: str, *, permanent: bool) -> None:
        now = self.clock.now()
        final = permanent or row.attempts >= MAX_ATTEMPTS
        MEDIA_FETCHES.labels(row.channel, "failed" if final else "retry").inc()
        if final:
            # Never the MediaId or the person: only which row, for the admin to look up.
            log.warning("photo %s could not be kept: %s", row.id, reason)
            if not permanent:
                reason = f"多次获取失败，未能保存（{reason}）"
            self._finish(row, status="failed", last_error=reason, next_attempt_at=now)
        else:
            retry_at = now + BACKOFF[min(row.attempts - 1, len(BACKOFF) - 1)]
            self._finish(row, status="pending", last_error=reason, next_attempt_at=retry_at)

    def _finish(self, row: Claimed, **values: Any) -> None:
        with transaction(self.factory) as session:
            session.execute(
                _FILES.update()
                .where(_FILES.c.id == row.id, _FILES.c.attempts == row.attempts, _FILES.c.status == "fetching")
                .values(**values)
            )


def _image_type(got: Media) -> str | None:
    """The image type the bytes really are (whatever was declared), or None if they are no image we keep."""
    kind = filetype.guess_mime(got.content)
    return kind if kind in IMAGE_TYPES else None
