"""民生码: permanent WeChat QR codes of a room (scan to propose there) or of an item (scan to see it, 附议,
rate its result), their scene strings, and the scans counted per code.

A code's scene is `room-<id>` for a room and the receipt (`YS-2026-000123`) for a proposal. WeChat hands
the scene back in the event of a scan: `subscribe` with `EventKey` `qrscene_<scene>` from someone who
follows the account by scanning, `SCAN` with `EventKey` `<scene>` from a follower.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import filetype
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.services import rooms
from bot.services.proposals import by_receipt, find_receipt
from storage.models import ListItem, ListItemLink, Proposal, QrCode, ResultDelivery, Room

log = logging.getLogger(__name__)

ROOM_PREFIX = "room-"
SUBSCRIBE_PREFIX = "qrscene_"
_SCENE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FOLLOW_SCANS = frozenset({"subscribe", "subscribe_scan"})


class QrApi(Protocol):
    """What creating a code needs of the official account's API (bot/outbound/api.py WeChatApi)."""

    def create_qrcode(self, scene: str) -> tuple[str, str]: ...

    def qrcode_image(self, ticket: str) -> bytes: ...


class NoSuchTarget(ValueError):
    """The room or receipt named has no code to make (the message says what was found instead)."""


@dataclass(frozen=True)
class Target:
    scene: str
    label: str  # 幸福社区议事室 / YS-2026-000123
    room_id: int | None = None
    proposal_id: int | None = None


def room_scene(room_id: int) -> str:
    return f"{ROOM_PREFIX}{room_id}"


def target_of_room(room: Room) -> Target:
    return Target(room_scene(room.id), room.name, room_id=room.id)


def target_of_proposal(proposal: Proposal) -> Target:
    assert proposal.receipt is not None
    return Target(proposal.receipt, proposal.receipt, proposal_id=proposal.id)


def target_of(session: Session, *, text: str) -> Target:
    """A receipt (YS-…), a room id or a room's name (exact, else the one close name)."""
    words = text.strip()
    receipt = find_receipt(words)
    if receipt is not None:
        proposal = by_receipt(session, receipt=receipt) if receipt.startswith("YS") else None
        if proposal is None:
            raise NoSuchTarget(f"没有编号为 {receipt} 的提议（民生码只做议事室和提议的）")
        return target_of_proposal(proposal)
    room = session.get(Room, int(words)) if words.isdigit() else None
    room = room or session.scalars(select(Room).where(Room.name == words)).first()
    if room is None:
        found = rooms.rooms_matching(session, query=words)
        if len(found) != 1:
            names = "、".join(r.name for r in found) or "没有"
            raise NoSuchTarget(f"找不到唯一的议事室「{words}」（相近的：{names}）")
        room = session.get(Room, found[0].id)
    assert room is not None
    return target_of_room(room)


def image_name(scene: str, data: bytes) -> str:
    """`room-3.jpg`: the scene and what the bytes are (WeChat serves JPEG)."""
    kind = filetype.guess(data)
    extension = kind.extension if kind is not None and kind.mime.startswith("image/") else "jpg"
    return f"qrcode-{scene}.{extension}"


@dataclass(frozen=True)
class Made:
    ticket: str
    url: str
    path: Path


def make(*, api: QrApi, target: Target, directory: Path) -> Made:
    """Ask WeChat for the target's permanent code and save its image under `directory` (no database here:
    the calls may be slow, and a transaction must not wait on them). The same scene gives the same code,
    so a lost image is made again the same way."""
    ticket, url = api.create_qrcode(target.scene)
    data = api.qrcode_image(ticket)
    directory.mkdir(parents=True, exist_ok=True)
    path = (directory / image_name(target.scene, data)).resolve()
    path.write_bytes(data)
    return Made(ticket, url, path)


def keep(session: Session, *, target: Target, made: Made, now: datetime) -> QrCode:
    """The code's row, new or renewed (its scans are kept)."""
    code = session.scalars(select(QrCode).where(QrCode.scene == target.scene)).first()
    if code is None:
        code = QrCode(scene=target.scene, room_id=target.room_id, proposal_id=target.proposal_id, created_at=now)
        session.add(code)
    code.ticket, code.url, code.image_path, code.updated_at = made.ticket, made.url, str(made.path), now
    session.flush()
    return code


# --- scans ----------------------------------------------------------------------------------------------


def scanned_scene(event: str, event_key: str) -> str | None:
    """The scene of a scan event, else None: `subscribe` with `qrscene_<scene>` (wechatpy hands the XML form
    on as `subscribe_scan` with the prefix taken off) or `scan` with `<scene>`."""
    if event in FOLLOW_SCANS:
        key = event_key.removeprefix(SUBSCRIBE_PREFIX)
        if event == "subscribe" and key == event_key:
            return None  # a plain follow
    elif event == "scan":
        key = event_key
    else:
        return None
    return key if _SCENE.match(key) else None


def record_scan(session: Session, *, scene: str, now: datetime) -> QrCode | None:
    """Count one scan of the code with this scene (the event is claimed once, so once per scan)."""
    session.execute(update(QrCode).where(QrCode.scene == scene).values(scans=QrCode.scans + 1, last_scanned_at=now))
    return session.scalars(select(QrCode).where(QrCode.scene == scene)).first()


def room_of_scene(session: Session, *, scene: str) -> Room | None:
    """The room a `room-<id>` scene names (a code printed before its row was kept still opens it)."""
    number = scene.removeprefix(ROOM_PREFIX)
    if not scene.startswith(ROOM_PREFIX) or not number.isdigit():
        return None
    return session.get(Room, int(number))


def proposal_of_scene(session: Session, *, scene: str) -> Proposal | None:
    receipt = find_receipt(scene)
    return by_receipt(session, receipt=receipt) if receipt is not None and receipt.startswith("YS") else None


def published_results(session: Session, *, proposal_id: int) -> list[ListItem]:
    """The published feedback items that answer this proposal, oldest first."""
    return list(
        session.scalars(
            select(ListItem)
            .join(ListItemLink, ListItemLink.item_id == ListItem.id)
            .where(
                ListItemLink.proposal_id == proposal_id,
                ListItem.kind == "feedback",
                ListItem.published_at.is_not(None),
            )
            .order_by(ListItem.published_at, ListItem.id)
        )
    )


def hand_results(session: Session, *, proposal_id: int, person_id: int, now: datetime) -> int:
    """Someone who scanned an answered item's code has read its result on site: it reaches them as it reached
    the proposer (a `result_deliveries` row), so they can rate it (评价) and are asked 回头看 later.
    Returns how many results are theirs to rate now."""
    waiting = 0
    for item in published_results(session, proposal_id=proposal_id):
        had = session.scalars(
            select(ResultDelivery).where(ResultDelivery.item_id == item.id, ResultDelivery.person_id == person_id)
        ).first()
        if had is None:
            had = ResultDelivery(item_id=item.id, person_id=person_id, proposal_id=proposal_id, delivered_at=now)
            session.add(had)
        waiting += had.rated_at is None
    session.flush()
    return waiting


# --- statistics -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanCount:
    scene: str
    label: str  # the room's name, or the receipt and the room
    scans: int
    last_scanned_at: datetime | None
    image_path: str


def scan_counts(session: Session, *, room_id: int | None = None) -> list[ScanCount]:
    """Every code with its scans, most scanned first (a room's own code and its items' codes when `room_id`)."""
    rows = session.execute(
        select(QrCode, Room.name, Proposal.receipt, Proposal.room_id)
        .outerjoin(Room, Room.id == QrCode.room_id)
        .outerjoin(Proposal, Proposal.id == QrCode.proposal_id)
        .order_by(QrCode.scans.desc(), QrCode.id)
    ).all()
    out = []
    for code, room_name, receipt, proposal_room in rows:
        if room_id is not None and room_id not in (code.room_id, proposal_room):
            continue
        label = room_name or receipt or code.scene
        out.append(ScanCount(code.scene, label, code.scans, code.last_scanned_at, code.image_path))
    return out
