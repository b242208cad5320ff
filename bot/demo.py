"""Demo data for a first run: rooms, a convenor, a member and a few proposals (only into an empty database)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.services import people, proposals
from bot.services.proposals import NewProposal
from bot.services.rooms import create_room
from storage.models import Room, RoomLevel, RoomRole

ROOMS = [
    ("幸福社区议事室", RoomLevel.village),
    ("青石镇议事室", RoomLevel.town),
    ("城东街道议事室", RoomLevel.town),
    ("教育界别议事室", RoomLevel.sector),
]
PROPOSALS = [
    ("sim-resident-wang", "幸福路北段的路灯坏了一个多月，晚上老人孩子出门很不安全，希望尽快修好。"),
    ("sim-resident-li", "小区门口电动车乱停乱放，消防通道经常被堵住，建议划定停放区并加装充电桩。"),
    ("sim-resident-zhao", "菜市场周边早高峰堵车严重，希望调整周边的停车管理和红绿灯时长。"),
]


def seed_demo(session: Session, *, now: datetime) -> bool:
    """Seed when there are no rooms yet. Returns whether anything was added."""
    if session.scalar(select(func.count()).select_from(Room)):
        return False
    rooms = [create_room(session, name=name, level=level) for name, level in ROOMS]
    home = rooms[0]
    convenor = people.get_or_create(session, channel="wechat", external_id="sim-convenor", simulated=True)
    convenor.display_name = "张召集人"
    member = people.get_or_create(session, channel="wecom", external_id="sim-member", simulated=True)
    member.display_name = "李委员"
    session.add_all(
        [
            RoomRole(room_id=home.id, person_id=convenor.id, role="convenor", created_at=now),
            RoomRole(room_id=home.id, person_id=member.id, role="member", created_at=now),
        ]
    )
    for offset, (openid, text) in enumerate(PROPOSALS):
        resident = people.get_or_create(session, channel="wechat", external_id=openid, simulated=True)
        resident.last_room_id = home.id
        proposals.file_proposal(
            session,
            new=NewProposal(room_id=home.id, proposer_id=resident.id, description=text),
            now=now - timedelta(days=len(PROPOSALS) - offset),
        )
    return True
