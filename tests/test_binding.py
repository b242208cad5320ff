"""Roles come only from invite codes: 绑定 takes one, 邀请 (convenors only) issues one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services.invites import create_invite
from bot.services.rooms import create_room
from scheduler.outbox import OutboxWorker
from storage.db import transaction
from storage.models import Invite, Role, RoomLevel, RoomRole
from tests.fake_wechat import FakeWeChat
from tests.helpers import drain, texts_to
from tests.wxclient import WeChatCallbackClient, WeComCallbackClient


def make_invite(factory: sessionmaker[Session], clock: FakeClock, role: Role) -> str:
    with transaction(factory) as session:
        room = create_room(session, name="幸福社区议事室", level=RoomLevel.village)
        return create_invite(session, room_id=room.id, role=role, now=clock.now()).code


def roles(factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    with factory() as session:
        return [(r.role, str(r.person_id)) for r in session.scalars(select(RoomRole))]


def test_bind_takes_the_role_once(wecom: WeComCallbackClient, factory: sessionmaker[Session], clock: FakeClock) -> None:
    """A member binds with a code (typed loosely); the same code is refused to anyone after."""
    code = make_invite(factory, clock, Role.member)
    reply = wecom.send_text("LiWei", f"绑定 {code.lower()}")
    assert "绑定成功" in reply.content and "委员" in reply.content
    assert [r for r, _ in roles(factory)] == ["member"]
    assert "已经用过" in wecom.send_text("WangFang", f"绑定{code}").content
    assert len(roles(factory)) == 1


def test_bad_and_expired_codes_change_nothing(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """A wrong code, a missing code and an expired code each get a plain sentence and no role."""
    code = make_invite(factory, clock, Role.representative)
    assert "不正确" in wechat.send_text("o-a", "绑定 ZZZZ9999").content
    assert "请发送邀请码" in wechat.send_text("o-a", "绑定").content
    clock.advance(timedelta(days=8))
    assert "已过期" in wechat.send_text("o-a", f"绑定 {code}").content
    assert roles(factory) == []


def test_resident_is_refused_a_convenor_command(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """A resident sending 邀请 is told it is for convenors; no code is created."""
    make_invite(factory, clock, Role.member)
    reply = wechat.send_text("o-resident", "邀请 委员")
    assert "召集人使用的功能" in reply.content
    with factory() as session:
        assert len(session.scalars(select(Invite)).all()) == 1


@pytest.mark.parametrize(
    "text", ["现场很多垃圾，好几天没人清理了", "回应一下楼上漏水的事吧，拖了很久", "广播声音太大吵得睡不着"]
)
def test_a_sentence_starting_with_a_convenor_word_is_ordinary_text_for_a_resident(
    wechat: WeChatCallbackClient, text: str
) -> None:
    """Only the bare word (or the word, a space and its arguments) is taken as the command."""
    reply = wechat.send_text("o-resident", text).content
    assert "召集人使用的功能" not in reply
    assert f"收到您的留言：「{text}」" in reply and "作为微建言提交" in reply
    assert "召集人使用的功能" in wechat.send_text("o-resident", "现场").content


def test_convenor_issues_codes_from_chat(
    wechat: WeChatCallbackClient, wecom: WeComCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """A bound convenor issues a representative code from chat, and a resident binds with it."""
    code = make_invite(factory, clock, Role.convenor)
    wechat.send_text("o-convenor", f"绑定 {code}")
    reply = wechat.send_text("o-convenor", "邀请 代表").content
    assert "群众代表邀请码" in reply
    new_code = reply.split("邀请码：")[1].split("\n")[0]
    assert "群众代表" in wechat.send_text("o-rep", f"绑定 {new_code}").content
    assert sorted(r for r, _ in roles(factory)) == ["convenor", "representative"]
    assert "邀请" in wechat.send_text("o-convenor", "帮助").content
    assert "邀请：" not in wechat.send_text("o-rep", "帮助").content


def test_a_convenor_of_two_rooms_names_the_room(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """With two rooms, 邀请 asks which (listing them); `2`, `邀请 委员 青石` or `邀请 委员 1` issue the code."""
    with transaction(factory) as session:
        happy = create_room(session, name="幸福社区议事室", level=RoomLevel.village)
        stone = create_room(session, name="青石镇议事室", level=RoomLevel.town)
        codes = [create_invite(session, room_id=r.id, role=Role.convenor, now=clock.now()).code for r in (happy, stone)]
    for code in codes:
        wechat.send_text("o-convenor", f"绑定 {code}")
    asked = wechat.send_text("o-convenor", "邀请 委员").content
    assert "为哪个议事室邀请" in asked and "1. 幸福社区议事室" in asked and "2. 青石镇议事室" in asked
    with factory() as session:
        assert session.scalars(select(Invite).where(Invite.used_at.is_(None))).all() == []
    assert "「青石镇议事室」委员邀请码" in wechat.send_text("o-convenor", "2").content
    issued = wechat.send_text("o-convenor", "邀请 委员 青石").content
    assert "「青石镇议事室」委员邀请码" in issued
    assert "「幸福社区议事室」委员邀请码" in wechat.send_text("o-convenor", "邀请 委员 1").content


def test_help_is_grouped_by_role(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """帮助 shows a resident only the 居民 commands; a convenor also gets the 召集人 section (sent as a second
    message: the whole is past WeChat's size for one), each line short."""
    code = make_invite(factory, clock, Role.convenor)
    with transaction(factory) as session:
        member_code = create_invite(session, room_id=1, role=Role.member, now=clock.now()).code
    resident = wechat.send_text("o-resident", "帮助").content
    assert "【居民】" in resident and "· 提议题：" in resident and "· 绑定：" in resident
    assert "【委员/代表】" not in resident and "【召集人】" not in resident
    for command in ("待审", "受理", "广播", "新建协商", "改期", "出席情况", "邀请", "参加"):
        assert f"· {command}：" not in resident

    wechat.send_text("o-convenor", f"绑定 {code}")
    first = wechat.send_text("o-convenor", "帮助").content
    drain(outbox_worker)
    convenor = "\n\n".join([first, *texts_to(fake, "o-convenor")])
    assert "【居民】" in convenor and "【委员/代表】" not in convenor
    residents_part, convenor_part = convenor.split("【召集人】")
    assert "· 提议题：" in residents_part and "· 待审：" not in residents_part
    for command in ("待审", "受理", "广播", "新建协商", "改期", "出席情况", "邀请", "我的会议"):
        assert f"· {command}：" in convenor_part
    assert max(len(line) for line in convenor.split("\n")) <= 30

    wechat.send_text("o-member", f"绑定 {member_code}")
    member = wechat.send_text("o-member", "帮助").content
    assert "【委员/代表】" in member and "· 参加：" in member and "【召集人】" not in member
