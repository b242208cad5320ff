"""报上级 and 退回 at the service level: the hop rows, the history, who is told, and refusals that write nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.services import escalation, escalation_path, people, proposals
from bot.services.proposals import NewProposal
from bot.services.review import ReviewError, item_refusal
from bot.services.review_parse import parse_kind
from bot.services.rooms import create_room
from storage.db import transaction
from storage.models import Escalation, OutboxMessage, ProposalStatus, Role, RoomLevel, RoomRole, StatusChange

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
TZ = "Asia/Shanghai"


def test_the_kind_stands_apart_from_the_reason() -> None:
    """A kind word opens the text and stands apart; 建议由镇里… is a reason, not the kind 建议."""
    assert parse_kind("社情民意信息 涉及县道") == ("opinion", "涉及县道")
    assert parse_kind("作为提案线索，全区都有") == ("clue", "全区都有")
    assert parse_kind("建议") == ("advice", "")
    assert parse_kind("建议由镇里统一协调") == (None, "建议由镇里统一协调")


def test_refusals_are_read_from_the_item() -> None:
    """报上级 needs a parent and an open item; 退回 needs an item that came from below."""
    item = {"status": "submitted", "room_name": "幸福社区议事室", "parent": "", "from_room": ""}
    assert "没有上级议事室" in (item_refusal(item, "escalate") or "")
    assert "不是下级议事室报送来的" in (item_refusal(item, "return") or "")
    assert item_refusal({**item, "parent": "城东街道议事室"}, "escalate") is None
    assert "不能再报上级" in (item_refusal({**item, "status": "declined", "parent": "x"}, "escalate") or "")
    assert item_refusal({**item, "status": "escalated", "from_room": "幸福村"}, "return") is None


def test_escalated_twice_then_sent_back(factory: sessionmaker[Session]) -> None:
    """Up two levels and back one: the current room follows, each hop is a row and a history line, and the
    convenors below on the path are told of each answer; a refusal writes nothing."""
    with transaction(factory) as session:
        district = create_room(session, name="区政协议事室", level=RoomLevel.district)
        town = create_room(session, name="街道议事室", level=RoomLevel.town, parent=district)
        village = create_room(session, name="村议事室", level=RoomLevel.village, parent=town)
        lone = create_room(session, name="无上级议事室", level=RoomLevel.village)
        ids = {}
        for name, room in (("v", village), ("t", town), ("d", district), ("l", lone), ("r", village)):
            person = people.get_or_create(session, channel="wechat", external_id=f"esc-{name}")
            session.flush()
            ids[name] = person.id
            if name != "r":
                session.add(RoomRole(room_id=room.id, person_id=person.id, role=Role.convenor))
        item = proposals.file_proposal(
            session,
            new=NewProposal(room_id=village.id, proposer_id=ids["r"], description="县道路口没有红绿灯"),
            now=NOW,
        )
        stray = proposals.file_proposal(
            session, new=NewProposal(room_id=lone.id, proposer_id=ids["r"], description="广场的灯坏了"), now=NOW
        )
        session.flush()

        escalation.escalate(
            session, proposal=item, actor_id=ids["v"], kind="opinion", reason="村里管不了", now=NOW, tz=TZ
        )
        escalation.escalate(session, proposal=item, actor_id=ids["t"], kind="clue", reason="全区都有", now=NOW, tz=TZ)
        assert item.room_id == district.id and item.status == ProposalStatus.escalated
        assert escalation_path.lower_rooms(session, proposal_id=item.id) == [village.id, town.id]

        done = escalation.send_back(session, proposal=item, actor_id=ids["d"], reason="请街道先协调", now=NOW, tz=TZ)
        assert item.room_id == town.id and item.status == ProposalStatus.returned
        assert done.told == 1 and done.path == 2  # the resident; the village's and the town's convenors
        assert escalation_path.lower_rooms(session, proposal_id=item.id) == [village.id]

        before = session.scalar(select(func.count()).select_from(OutboxMessage))
        with pytest.raises(ReviewError, match="没有上级议事室"):
            escalation.escalate(
                session, proposal=stray, actor_id=ids["l"], kind="advice", reason="试试", now=NOW, tz=TZ
            )
        with pytest.raises(ReviewError, match="不是这个议事室的召集人"):
            escalation.escalate(session, proposal=item, actor_id=ids["v"], kind="advice", reason="再报", now=NOW, tz=TZ)
        assert stray.status == ProposalStatus.submitted and stray.room_id == lone.id
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == before

        hops = session.scalars(select(Escalation).order_by(Escalation.id)).all()
        assert [(h.kind, h.returned_at is not None) for h in hops] == [("opinion", False), ("clue", True)]
        history = session.scalars(
            select(StatusChange.to_status).where(StatusChange.proposal_id == item.id).order_by(StatusChange.id)
        ).all()
        assert history == ["submitted", "escalated", "escalated", "returned"]
