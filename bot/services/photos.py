"""What staff see of the photos and places residents send: the `照片 3 张：<link>` and `位置：…` lines in
chat, and the photos behind the link (a page signed with SECRET_KEY, bot/web/photos.py) and in the admin.

Whoever holds the link sees that item's photos; the item's id alone opens nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import media, signed_links
from storage.models import Attachment, MediaFile, Proposal, Suggestion

PROPOSAL = "proposal"
SUGGESTION = "suggestion"
KINDS = (PROPOSAL, SUGGESTION)
STATUS_NAMES = {
    "stored": "已保存",
    "pending": "正在保存",
    "fetching": "正在保存",
    "failed": "未能保存",
    "none": "未保存",
}


@dataclass(frozen=True)
class Photo:
    attachment_id: int
    status: str  # stored | pending | fetching | failed | none (never fetched: a simulated person's)
    error: str | None = None


@dataclass(frozen=True)
class Place:
    label: str
    latitude: float
    longitude: float

    def text(self) -> str:
        """`幸福路北段（坐标 31.23, 121.47）`: the place as sent, and where exactly."""
        return f"{self.label}（坐标 {round(self.latitude, 6)}, {round(self.longitude, 6)}）"


@dataclass(frozen=True)
class Kept:
    """What was sent along with one item."""

    photos: list[Photo] = field(default_factory=list)
    place: Place | None = None

    @property
    def failed(self) -> int:
        return sum(1 for p in self.photos if p.status in ("failed", "none"))


@dataclass(frozen=True)
class PhotoLinks:
    """Signed links to an item's photo page."""

    base_url: str
    secret: str

    def page(self, kind: str, item_id: int) -> str:
        return f"{self.base_url.rstrip('/')}/photos/{kind}/{item_id}?key={sign(kind, item_id, secret=self.secret)}"


def sign(kind: str, item_id: int, *, secret: str) -> str:
    return signed_links.sign(f"photos:{kind}", item_id, secret=secret)


def key_valid(kind: str, item_id: int, key: str | None, *, secret: str) -> bool:
    return kind in KINDS and signed_links.verify(f"photos:{kind}", item_id, key, secret=secret)


def lines(kept: Kept, link: str | None) -> list[str]:
    """The lines a convenor reads: `照片 3 张：<link>` and `位置：幸福路北段（坐标 31.23, 121.47）`."""
    out = []
    if kept.photos:
        note = f"（{kept.failed} 张未能保存）" if kept.failed else ""
        out.append(f"照片 {len(kept.photos)} 张" + (f"：{link}" if link else "") + note)
    if kept.place is not None:
        out.append(f"位置：{kept.place.text()}")
    return out


def of_items(session: Session, *, kind: str, ids: Iterable[int]) -> dict[int, Kept]:
    """The photos and place of each item (one query for the photos, one for proposals' places)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    owner = Attachment.proposal_id if kind == PROPOSAL else Attachment.suggestion_id
    rows = session.execute(
        select(owner, Attachment.id, Attachment.kind, Attachment.label, Attachment.latitude, Attachment.longitude)
        .add_columns(MediaFile.status, MediaFile.last_error)
        .outerjoin(MediaFile, MediaFile.id == Attachment.media_file_id)
        .where(owner.in_(ids))
        .order_by(Attachment.id)
    ).all()
    photos: dict[int, list[Photo]] = {}
    places: dict[int, Place] = {}
    for item_id, attachment_id, what, label, lat, lng, status, error in rows:
        if what == "image":
            photos.setdefault(item_id, []).append(Photo(attachment_id, status or "none", error))
        elif what == "location" and lat is not None and lng is not None:
            places[item_id] = Place(label or "已发送的位置", lat, lng)
    if kind == PROPOSAL:  # a proposal keeps its place on itself
        for item_id, label, lat, lng in session.execute(
            select(Proposal.id, Proposal.location_label, Proposal.latitude, Proposal.longitude).where(
                Proposal.id.in_(ids), Proposal.latitude.is_not(None), Proposal.longitude.is_not(None)
            )
        ).all():
            places[item_id] = Place(label or "已发送的位置", float(lat or 0), float(lng or 0))
    return {i: Kept(photos.get(i, []), places.get(i)) for i in ids}


def of_item(session: Session, *, kind: str, item_id: int) -> Kept:
    return of_items(session, kind=kind, ids=[item_id])[item_id]


def photo(session: Session, *, kind: str, item_id: int, attachment_id: int) -> media.Stored | None:
    """One kept photo of the item, or None (not this item's, or not kept)."""
    owner = Attachment.proposal_id if kind == PROPOSAL else Attachment.suggestion_id
    file_id = session.scalar(
        select(Attachment.media_file_id).where(
            Attachment.id == attachment_id, owner == item_id, Attachment.kind == "image"
        )
    )
    return media.stored(session, media_file_id=file_id) if file_id is not None else None


def proposal_of_photo(session: Session, *, attachment_id: int) -> int | None:
    """The proposal a photo was sent with, or None (a micro-suggestion's, or none)."""
    return session.scalar(select(Attachment.proposal_id).where(Attachment.id == attachment_id))


def heading(session: Session, *, kind: str, item_id: int) -> str | None:
    """`提议 YS-2026-000001 · 幸福社区议事室`, or None when there is no such item."""
    if kind == PROPOSAL:
        proposal = session.get(Proposal, item_id)
        return f"提议 {proposal.receipt} · {proposal.room.name}" if proposal is not None else None
    note = session.get(Suggestion, item_id)
    return f"微建言 {note.receipt} · {note.room.name}" if note is not None else None
