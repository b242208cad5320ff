"""Small helpers several test modules share: talking through a callback client, binding a role by
invite code, counting rows, a room with a convenor and approved topics for the session tests, and
posting admin forms as a browser does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.roles import ROLE_NAMES
from bot.services import people, proposals
from bot.services.invites import create_invite
from bot.services.proposals import NewProposal
from bot.services.rooms import create_room
from scheduler.outbox import OutboxWorker
from storage.db import transaction
from storage.models import ConsultSession, ProposalStatus, Role, RoomLevel, RoomRole
from tests.fake_wechat import FakeWeChat
from tests.wxclient import WeChatCallbackClient, WeComCallbackClient


def talk(client: WeChatCallbackClient | WeComCallbackClient, user: str, *lines: str) -> list[str]:
    """Send each line in turn as `user`; the replies, one per line."""
    replies = []
    for line in lines:
        reply = client.send_text(user, line)
        assert reply.status_code == 200
        replies.append(reply.content)
    return replies


def bind(
    client: WeChatCallbackClient | WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    user: str,
    *,
    room_id: int,
    role: Role,
) -> None:
    """`user` takes `role` in the room the way people do: an invite code, then 绑定 in chat."""
    with transaction(factory) as session:
        code = create_invite(session, room_id=room_id, role=role, now=clock.now()).code
    reply = client.send_text(user, f"绑定 {code}").content
    assert "绑定成功" in reply and ROLE_NAMES[role] in reply


def count_rows(factory: sessionmaker[Session], model: Any) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- a room ready for sessions (新建协商, reminders) ------------------------------------------------

CONVENOR = "boss"
DEC3_1500 = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # 2026-12-03 15:00 in Shanghai
# 议题, 会议名称 (default), start, end (default), place, format, invitees, materials, 确认
STANDARD = [
    "1 2",
    "跳过",
    "12月3日下午3点",
    "跳过",
    "社区二楼,会议室",
    "1",
    "1",
    "https://example.org/材料.pdf",
    "确认",
]


@dataclass
class SessionRoom:
    id: int
    members: list[str]
    representatives: list[str]
    topics: list[str]  # receipts of the approved proposals, in approval order


def make_room(
    factory: sessionmaker[Session],
    clock: FakeClock,
    wecom: WeComCallbackClient,
    *,
    members: int = 8,
    representatives: int = 4,
    topics: int = 2,
    name: str = "幸福社区议事室",
) -> SessionRoom:
    """A room with WeCom members and representatives, approved topics, and a convenor bound from chat."""
    now = clock.now()
    with transaction(factory) as session:
        room = create_room(session, name=name, level=RoomLevel.village)
        ids = {"member": [f"m{i}" for i in range(members)], "representative": [f"r{i}" for i in range(representatives)]}
        for role, users in ids.items():
            for number, user in enumerate(users):
                person = people.get_or_create(session, channel="wecom", external_id=user)
                person.display_name = f"{'委员' if role == 'member' else '代表'}{number}"
                session.add(RoomRole(room_id=room.id, person_id=person.id, role=role, created_at=now))
        resident = people.get_or_create(session, channel="wecom", external_id="resident")
        resident.display_name = "王芳"
        receipts = []
        texts = ["幸福路北段路灯坏了一个多月，晚上很黑", "小区门口电动车乱停，消防通道被堵"]
        for text in texts[:topics]:
            proposal = proposals.file_proposal(
                session, new=NewProposal(room_id=room.id, proposer_id=resident.id, description=text), now=now
            )
            proposal.approval_unit = "幸福社区党委"
            proposal.approved_at = now
            proposals.change_status(
                session, proposal=proposal, to=ProposalStatus.approved, actor_id=None, reason="审定", now=now
            )
            receipts.append(proposal.receipt or "")
        room_id = room.id
    bind(wecom, factory, clock, CONVENOR, room_id=room_id, role=Role.convenor)
    return SessionRoom(room_id, ids["member"], ids["representative"], receipts)


def schedule(wecom: WeComCallbackClient, answers: list[str]) -> list[str]:
    """Run 新建协商 with these answers; the replies, one per message sent."""
    return talk(wecom, CONVENOR, "新建协商", *answers)


def small_session(factory: sessionmaker[Session], clock: FakeClock, wecom: WeComCallbackClient) -> SessionRoom:
    """Two members and a representative invited to the STANDARD session (2026-12-03 15:00)."""
    room = make_room(factory, clock, wecom, members=2, representatives=1)
    schedule(wecom, STANDARD)
    return room


def only_session(factory: sessionmaker[Session]) -> ConsultSession:
    with factory() as session:
        return session.scalars(select(ConsultSession)).one()


def texts_to(fake: FakeWeChat, user: str) -> list[str]:
    return [content for _, content in fake.sent_texts(user)]


def drain(worker: OutboxWorker) -> None:
    """Run the outbox until nothing is due."""
    while worker.run_once():
        pass


# --- the web admin ------------------------------------------------------------------------------

ADMIN_ORIGIN = "http://testserver"  # the TestClient's own origin
_ADMIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"|name="csrf-token" content="([^"]+)"')


def admin_token(client: TestClient, page: str = "/admin/login") -> str:
    """The CSRF token a browser finds on an admin page ("" if the page has none)."""
    reply = client.get(page)
    assert reply.status_code == 200, reply.text
    found = _ADMIN_TOKEN.search(reply.text)
    return (found.group(1) or found.group(2)) if found else ""


def admin_post(client: TestClient, path: str, data: dict[str, str], *, page: str | None = None, **kwargs: Any) -> Any:
    """Submit an admin form as a browser does: open the page it is on (by default the form's own URL),
    then post with that page's token from the admin's own origin."""
    token = admin_token(client, page or path)
    headers = {"Origin": ADMIN_ORIGIN, **kwargs.pop("headers", {})}
    return client.post(path, data={**data, "csrf_token": token}, headers=headers, **kwargs)
