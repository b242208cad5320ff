"""Residents' photos kept for good: WeChat and WeCom keep a photo's temporary media three days, so each
photo is fetched soon after it arrives (scheduler/media.py, never in the callback) and its bytes kept in
`media_files`, where every process reads them.

A `media_files` row is the fetch queue and the store at once: pending → fetching (claimed, with a
deadline) → stored, or failed with the reason staff read. Photos of simulated people are not fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, undefer

from storage.models import Attachment, MediaFile

MAX_BYTES = 10 * 1024 * 1024  # WeChat's own limit for an image; nothing larger is kept
# Photos never filed with an item (a draft left, an offer declined) are forgotten after this long.
KEEP_UNFILED = timedelta(days=30)
# What is served as a photo: sniffed from the bytes, never taken from the sender's word.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp"})


def keep(session: Session, *, channel: str, media_id: str, now: datetime) -> int:
    """Queue the photo for fetching (once per channel and MediaId); its `media_files` id."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(MediaFile)
        .values(
            channel=channel, media_id=media_id[:200], status="pending", attempts=0, next_attempt_at=now, created_at=now
        )
        .on_conflict_do_nothing(index_elements=["channel", "media_id"])
    )
    found = session.scalar(
        select(MediaFile.id).where(MediaFile.channel == channel, MediaFile.media_id == media_id[:200])
    )
    assert found is not None
    return int(found)


def prune_unfiled(session: Session, *, now: datetime) -> int:
    """Forget photos no item holds, KEEP_UNFILED after they arrived; how many were deleted."""
    filed = exists().where(Attachment.media_file_id == MediaFile.id)
    result = session.execute(
        delete(MediaFile)
        .where(MediaFile.created_at < now - KEEP_UNFILED, ~filed)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class Stored:
    content: bytes
    content_type: str


def stored(session: Session, *, media_file_id: int) -> Stored | None:
    """The kept bytes of a photo, or None while it is not (yet) kept."""
    row = session.scalars(
        select(MediaFile).where(MediaFile.id == media_file_id).options(undefer(MediaFile.content))
    ).first()
    if row is None or row.status != "stored" or row.content is None:
        return None
    return Stored(row.content, row.content_type or "application/octet-stream")
