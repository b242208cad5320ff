"""Photos and locations residents send with their items: kept, several per item, in the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import media
from storage.models import Attachment

Photo = Sequence[str]  # [media_id, pic_url], as a dialog keeps it


def attach(
    session: Session,
    *,
    proposal_id: int | None = None,
    suggestion_id: int | None = None,
    photos: Sequence[Photo] = (),
    location: dict[str, Any] | None = None,
    fetch_from: str | None = None,
    now: datetime,
) -> int:
    """Store the photos (and a location) sent with one item; returns how many rows were added.

    `fetch_from`: the channel whose media API holds the photos; each is linked to its kept copy (queued
    when it arrived, or now). None: not fetched (the simulator's photos have no media behind them)."""
    rows = [
        Attachment(
            proposal_id=proposal_id,
            suggestion_id=suggestion_id,
            kind="image",
            media_id=str(media_id)[:200] or None,
            pic_url=str(pic_url)[:500] or None,
            media_file_id=media.keep(session, channel=fetch_from, media_id=str(media_id), now=now)
            if fetch_from and media_id
            else None,
            created_at=now,
        )
        for media_id, pic_url in photos
    ]
    if location is not None and location.get("latitude") is not None:
        rows.append(
            Attachment(
                proposal_id=proposal_id,
                suggestion_id=suggestion_id,
                kind="location",
                latitude=location["latitude"],
                longitude=location.get("longitude"),
                label=str(location.get("location_label") or "")[:200] or None,
                created_at=now,
            )
        )
    session.add_all(rows)
    return len(rows)


def of_proposal(session: Session, *, proposal_id: int) -> list[Attachment]:
    return list(
        session.scalars(select(Attachment).where(Attachment.proposal_id == proposal_id).order_by(Attachment.id))
    )


def of_suggestion(session: Session, *, suggestion_id: int) -> list[Attachment]:
    return list(
        session.scalars(select(Attachment).where(Attachment.suggestion_id == suggestion_id).order_by(Attachment.id))
    )
