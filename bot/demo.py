"""Demo data for a first run (only into an empty database): rooms, a convenor, a member, a few
proposals, one session held last month with its three lists and a published result waiting for a
rating, and one coming next week."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import local
from bot.services import lists, people, proposals
from bot.services.proposals import NewProposal
from bot.services.rooms import create_room
from storage.models import (
    ConsultSession,
    Person,
    Proposal,
    ProposalStatus,
    Room,
    RoomLevel,
    RoomRole,
    SessionInvitee,
    SessionTopic,
)

ROOMS = [
    ("幸福社区议事室", RoomLevel.village),
    ("青石镇议事室", RoomLevel.town),
    ("城东街道议事室", RoomLevel.town),
    ("教育界别议事室", RoomLevel.sector),
]
PROPOSALS = [
    ("sim-王阿姨", "幸福路北段的路灯坏了一个多月，晚上老人孩子出门很不安全，希望尽快修好。"),
    ("sim-李大爷", "小区门口电动车乱停乱放，消防通道经常被堵住，建议划定停放区并加装充电桩。"),
    ("sim-赵师傅", "菜市场周边早高峰堵车严重，希望调整周边的停车管理和红绿灯时长。"),
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
    filed = []
    for offset, (openid, text) in enumerate(PROPOSALS):
        resident = people.get_or_create(session, channel="wechat", external_id=openid, simulated=True)
        resident.last_room_id = home.id
        filed.append(
            proposals.file_proposal(
                session,
                new=NewProposal(room_id=home.id, proposer_id=resident.id, description=text),
                now=now - timedelta(days=len(PROPOSALS) - offset),
            )
        )
    wang = people.get_or_create(session, channel="wechat", external_id=PROPOSALS[0][0], simulated=True)
    _held_session(session, room=home, convenor=convenor, member=member, proposer=wang, now=now)
    _coming_session(session, room=home, convenor=convenor, member=member, topic=filed[1], now=now)
    return True


def _topic(session: Session, proposal: Proposal, *, at: datetime, to: ProposalStatus) -> None:
    proposal.approval_unit = "幸福社区党委"
    proposal.approved_at = at
    for status in (ProposalStatus.accepted, ProposalStatus.approved, to):
        proposals.change_status(session, proposal=proposal, to=status, actor_id=None, reason="演示数据", now=at)


def _meeting(
    session: Session, *, room: Room, convenor: Person, member: Person, title: str, starts: datetime, fmt: str
) -> ConsultSession:
    meeting = ConsultSession(
        room_id=room.id,
        convenor_id=convenor.id,
        title=title,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        place="幸福社区党群服务中心二楼" if fmt != "online" else "线上（腾讯会议）",
        format=fmt,
        created_at=starts - timedelta(days=7),
        updated_at=starts - timedelta(days=7),
    )
    session.add(meeting)
    session.flush()
    session.add(SessionInvitee(session_id=meeting.id, person_id=member.id, role="member", rsvp="attend"))
    return meeting


def _held_session(
    session: Session, *, room: Room, convenor: Person, member: Person, proposer: Person, now: datetime
) -> None:
    """Last month's session on the fitness equipment: three lists recorded, the result published."""
    held_at = now - timedelta(days=20)
    proposal = proposals.file_proposal(
        session,
        new=NewProposal(
            room_id=room.id,
            proposer_id=proposer.id,
            description="小区健身器材老化生锈，单杠已经松动，老人孩子用着不放心，希望更换。",
        ),
        now=held_at - timedelta(days=14),
    )
    _topic(session, proposal, at=held_at - timedelta(days=10), to=ProposalStatus.scheduled)
    meeting = _meeting(
        session, room=room, convenor=convenor, member=member, title="小区健身器材更新", starts=held_at, fmt="meeting"
    )
    session.add(SessionTopic(session_id=meeting.id, proposal_id=proposal.id))
    session.flush()
    today = local(now).date()
    deadline = (today + timedelta(days=10)).isoformat()
    entries = {
        "suggestions": "#1 拆除松动单杠，更换一批适老健身器材\n#1 器材旁设报修二维码",
        "responsibilities": f"#1 更换健身器材｜幸福社区居委会｜{deadline}",
        "feedback": "#1 更换健身器材｜已拆除松动单杠，新器材下周安装｜已采纳",
    }
    for kind, text in entries.items():
        lists.store_entry(session, consult=meeting, kind=kind, text=text, today=today, replace=False, now=held_at)
    lists.publish_feedback(session, session_id=meeting.id, actor_id=convenor.id, now=now - timedelta(days=1))


def _coming_session(
    session: Session, *, room: Room, convenor: Person, member: Person, topic: Proposal, now: datetime
) -> None:
    """Next week's online session on the parking proposal, the member invited."""
    _topic(session, topic, at=now - timedelta(days=1), to=ProposalStatus.scheduled)
    starts = local(now + timedelta(days=7)).replace(hour=15, minute=0, second=0, microsecond=0)
    meeting = _meeting(
        session, room=room, convenor=convenor, member=member, title="电动车停放与充电", starts=starts, fmt="online"
    )
    session.add(SessionTopic(session_id=meeting.id, proposal_id=topic.id))
