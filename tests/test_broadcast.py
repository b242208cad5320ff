"""广播 from chat: audience, text, preview with the count, 确认, one message per recipient, a
delivery report to the convenor; 退订 / 订阅; residents refused; nothing created without 确认."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services import people, proposals, suggestions
from bot.services.delivery import reason
from bot.services.proposals import NewProposal
from bot.services.rooms import create_room
from bot.services.suggestions import NewSuggestion
from scheduler.broadcast_reports import report_finished_broadcasts
from scheduler.outbox import OutboxWorker
from storage.db import transaction
from storage.models import (
    Broadcast,
    ConsultSession,
    DialogState,
    OutboxMessage,
    Person,
    Role,
    RoomLevel,
    SessionInvitee,
)
from tests.fake_wechat import CUSTOM_SEND_PATH, TEMPLATE_SEND_PATH, FakeWeChat
from tests.helpers import bind, count_rows, drain, talk
from tests.wxclient import WeChatCallbackClient

CONVENOR = "o-convenor"
MEMBER = "o-member"
REP = "o-rep"
PROPOSER = "o-proposer"
SUPPORTER = "o-supporter"
SUGGESTER = "o-suggester"
OUTSIDER = "o-other-room"
HAPPY = "幸福社区议事室"
NOTICE = "本周六上午9点在社区活动室召开加装电梯协商会，欢迎大家参加。"


@dataclass
class Room:
    id: int
    receipt: str  # a proposal of this room, by PROPOSER, supported by SUPPORTER
    other_receipt: str  # a proposal of another room


def setup_room(wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock) -> Room:
    """A room with a convenor (also a member), a member, a representative and three residents who
    have written to it, plus a resident of another room. Everyone has just written to the account."""
    with transaction(factory) as session:
        room = create_room(session, name=HAPPY, level=RoomLevel.village)
        other = create_room(session, name="青石镇议事室", level=RoomLevel.town)
        room_id, other_id = room.id, other.id
    for who, role in [
        (CONVENOR, Role.convenor),
        (CONVENOR, Role.member),
        (MEMBER, Role.member),
        (REP, Role.representative),
    ]:
        bind(wechat, factory, clock, who, room_id=room_id, role=role)
    for who in (PROPOSER, SUPPORTER, OUTSIDER):
        wechat.send_text(who, "你好")
    assert "议事室" in wechat.send_text(SUGGESTER, "微建言 楼道里的灯晚上太暗了").content
    assert "编号" in wechat.send_text(SUGGESTER, "1").content + wechat.send_text(SUGGESTER, "确认").content
    with transaction(factory) as session:
        ids = {
            who: people.get_or_create(session, channel="wechat", external_id=who).id
            for who in (PROPOSER, SUPPORTER, OUTSIDER)
        }
        mine = proposals.file_proposal(
            session,
            new=NewProposal(room_id=room_id, proposer_id=ids[PROPOSER], description="老旧小区加装电梯，费用怎么分摊"),
            now=clock.now(),
        )
        proposals.support(session, proposal_id=mine.id, person_id=ids[SUPPORTER], now=clock.now())
        theirs = proposals.file_proposal(
            session,
            new=NewProposal(room_id=other_id, proposer_id=ids[OUTSIDER], description="镇上集市占道经营"),
            now=clock.now(),
        )
        suggestions.file(session, new=NewSuggestion(other_id, ids[OUTSIDER], "多设垃圾桶"), now=clock.now())
        return Room(id=room_id, receipt=mine.receipt or "", other_receipt=theirs.receipt or "")


def texts_to(fake: FakeWeChat, user: str, body: str = NOTICE) -> list[str]:
    """Broadcasts received: the text, framed with the room's name and how to unsubscribe."""
    framed = f"【{HAPPY}·通知】\n{body}\n——{HAPPY}（不想再收到通知，回复「退订」）"
    return [content for _to, content in fake.sent_texts(user) if content == framed]


@pytest.fixture
def room(wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock) -> Room:
    return setup_room(wechat, factory, clock)


@pytest.mark.usefixtures("room")
def test_broadcast_to_members_with_preview_confirm_and_report(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """The preview shows the count (the convenor excluded); after 确认 each member gets one message and the convenor one report."""
    prompt = wechat.send_text(CONVENOR, "广播").content
    assert "1. 本室委员和代表" in prompt and "4. 某次协商的受邀人" in prompt
    assert "广播的内容" in wechat.send_text(CONVENOR, "1").content
    preview = wechat.send_text(CONVENOR, NOTICE).content
    assert "对象：本室委员和代表" in preview and "收件人：2 人" in preview and NOTICE in preview
    assert count_rows(factory, Broadcast) == 0
    assert "已开始发送给 2 人，完成后会告诉您结果" in wechat.send_text(CONVENOR, "确认").content

    with factory() as session:
        broadcast = session.scalars(select(Broadcast)).one()
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast.id)).all()
        assert broadcast.recipients == 2 and broadcast.status == "sending"
        assert sorted(r.idempotency_key for r in rows) == sorted(
            f"broadcast:{broadcast.id}:{r.person_id}" for r in rows
        )

    assert report_finished_broadcasts(factory, clock.now()) == 0  # nothing sent yet: no report
    drain(outbox_worker)
    assert len(texts_to(fake, MEMBER)) == 1 and len(texts_to(fake, REP)) == 1
    assert texts_to(fake, CONVENOR) == [] and texts_to(fake, PROPOSER) == []

    assert report_finished_broadcasts(factory, clock.now()) == 1
    assert report_finished_broadcasts(factory, clock.now()) == 0  # run again: still one report
    drain(outbox_worker)
    reports = [c for _to, c in fake.sent_texts(CONVENOR) if "发送完成" in c]
    assert len(reports) == 1 and "发送完成（共 2 人）：送达 2 人。" in reports[0]
    with factory() as session:
        done = session.scalars(select(Broadcast)).one()
        assert done.status == "done" and done.finished_at == clock.now()
    # Each recipient still has exactly one copy after the report pass.
    assert len(texts_to(fake, MEMBER)) == 1 and len(texts_to(fake, REP)) == 1


@pytest.mark.usefixtures("room")
def test_failed_recipient_is_reported_with_its_reason(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """Residents who wrote to the room get the message; one who cannot be reached shows as failed, with why."""
    for path in (CUSTOM_SEND_PATH, TEMPLATE_SEND_PATH):
        fake.fail_for(path, lambda body: isinstance(body, dict) and body.get("touser") == SUPPORTER, 40003)
    wechat.send_text(CONVENOR, "广播")
    assert "广播的内容" in wechat.send_text(CONVENOR, "本室群众").content
    preview = wechat.send_text(CONVENOR, NOTICE).content
    assert "收件人：3 人" in preview  # proposer, supporter, suggester; not the other room's resident
    assert "已开始发送给 3 人" in wechat.send_text(CONVENOR, "确认").content
    drain(outbox_worker)
    assert len(texts_to(fake, PROPOSER)) == 1 and len(texts_to(fake, SUGGESTER)) == 1
    assert texts_to(fake, SUPPORTER) == [] and texts_to(fake, OUTSIDER) == []

    assert report_finished_broadcasts(factory, clock.now()) == 1
    drain(outbox_worker)
    (report,) = [c for _to, c in fake.sent_texts(CONVENOR) if "发送完成" in c]
    assert "（共 3 人）：送达 2 人，未送达 1 人。" in report
    assert "40003 用户标识无效: 1 人" in report

    records = wechat.send_text(CONVENOR, "广播记录").content
    assert (
        "本室群众" in records
        and "共 3 人" in records
        and "送达 2，未送达 1（失败 1）" in records
        and "已完成" in records
    )


def test_proposers_audience_by_number_and_by_receipt(
    wechat: WeChatCallbackClient,
    room: Room,
) -> None:
    """A proposal is picked from the numbered list or by its receipt; another room's receipt is refused."""
    wechat.send_text(CONVENOR, "广播")
    listing = wechat.send_text(CONVENOR, "3").content
    assert f"1. {room.receipt}" in listing and room.other_receipt not in listing
    assert "本议事室没有编号" in wechat.send_text(CONVENOR, room.other_receipt).content
    assert "序号" in wechat.send_text(CONVENOR, "7").content
    assert "已选择" in wechat.send_text(CONVENOR, "1").content
    preview = wechat.send_text(CONVENOR, NOTICE).content
    assert f"提议 {room.receipt}" in preview and "收件人：2 人" in preview

    # 返回 twice reaches the proposal step again; the receipt typed loosely works too.
    talk(wechat, CONVENOR, "返回", "返回")
    again = wechat.send_text(CONVENOR, room.receipt.lower().replace("-", "")).content
    assert "已选择" in again and "收件人：2 人" in again  # the text is kept: straight back to the preview


def test_invitees_audience_lists_upcoming_sessions_or_says_there_are_none(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    room: Room,
) -> None:
    """Without an upcoming session the invitee audience is refused; with one, its invitees are counted."""
    wechat.send_text(CONVENOR, "广播")
    assert "没有即将举行的协商活动" in wechat.send_text(CONVENOR, "4").content
    wechat.send_text(CONVENOR, "取消")

    with transaction(factory) as session:
        invited = [
            people.get_or_create(session, channel="wechat", external_id=who).id for who in (MEMBER, REP, CONVENOR)
        ]
        starts = clock.now() + timedelta(days=5)
        meeting = ConsultSession(
            room_id=room.id, title="加装电梯协商会", starts_at=starts, ends_at=starts + timedelta(hours=2)
        )
        session.add(meeting)
        session.flush()
        session.add_all(SessionInvitee(session_id=meeting.id, person_id=pid) for pid in invited)
    wechat.send_text(CONVENOR, "广播")
    listing = wechat.send_text(CONVENOR, "受邀人").content
    assert "1. " in listing and "加装电梯协商会" in listing
    assert "已选择" in wechat.send_text(CONVENOR, "1").content
    preview = wechat.send_text(CONVENOR, NOTICE).content
    assert "加装电梯协商会" in preview and "收件人：2 人" in preview


@pytest.mark.usefixtures("room")
def test_unsubscribe_excludes_a_resident_and_subscribe_includes_them_again(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session]
) -> None:
    """退订 takes a resident out of broadcast audiences (and says what still arrives); 订阅 puts them back."""
    reply = wechat.send_text(PROPOSER, "退订").content
    assert "不再收到广播通知" in reply and "进展和答复仍会通知您" in reply
    with factory() as session:
        person = session.scalars(select(Person).where(Person.external_id == PROPOSER)).one()
        assert person.unsubscribed is True

    talk(wechat, CONVENOR, "广播", "2")
    assert "收件人：2 人" in wechat.send_text(CONVENOR, NOTICE).content
    wechat.send_text(CONVENOR, "取消")

    assert "已恢复订阅" in wechat.send_text(PROPOSER, "订阅").content
    talk(wechat, CONVENOR, "广播", "2")
    assert "收件人：3 人" in wechat.send_text(CONVENOR, NOTICE).content


def test_no_recipients_creates_nothing(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    room: Room,
) -> None:
    """When everyone in the audience has unsubscribed the preview says 0 and 确认 creates nothing."""
    for who in (PROPOSER, SUPPORTER):
        wechat.send_text(who, "退订")
    talk(wechat, CONVENOR, "广播", "3", room.receipt)
    preview = wechat.send_text(CONVENOR, NOTICE).content
    assert "收件人：0 人" in preview and "没有可以发送的人" in preview
    assert "没有可以发送的人" in wechat.send_text(CONVENOR, "确认").content
    assert count_rows(factory, Broadcast) == 0 and count_rows(factory, OutboxMessage) == 0


@pytest.mark.usefixtures("room")
def test_resident_is_refused_broadcast(wechat: WeChatCallbackClient, factory: sessionmaker[Session]) -> None:
    """A resident sending 广播 or 广播记录 is told it is for convenors, and nothing is created."""
    assert "召集人使用的功能" in wechat.send_text(PROPOSER, "广播").content
    assert "召集人使用的功能" in wechat.send_text(MEMBER, "广播记录").content
    assert count_rows(factory, Broadcast) == 0
    with factory() as session:
        open_dialogs = session.scalars(select(DialogState.dialog).where(DialogState.status == "active")).all()
        assert "broadcast" not in open_dialogs


@pytest.mark.usefixtures("room")
def test_cancel_at_the_preview_creates_nothing(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """取消 at the preview sends nothing and stores no broadcast."""
    talk(wechat, CONVENOR, "广播", "1")
    assert "收件人：2 人" in wechat.send_text(CONVENOR, NOTICE).content
    assert "已取消" in wechat.send_text(CONVENOR, "取消").content
    drain(outbox_worker)
    assert count_rows(factory, Broadcast) == 0 and count_rows(factory, OutboxMessage) == 0
    assert texts_to(fake, MEMBER) == []


@pytest.mark.usefixtures("room")
def test_text_is_checked_and_can_be_rewritten_at_the_preview(wechat: WeChatCallbackClient) -> None:
    """Too short or too long text is refused plainly; 改内容 at the preview rewrites it; a bad audience answer is re-asked."""
    wechat.send_text(CONVENOR, "广播")
    assert "1 到 4" in wechat.send_text(CONVENOR, "随便").content
    wechat.send_text(CONVENOR, "委员")
    assert "至少 2 个字" in wechat.send_text(CONVENOR, "灯").content
    assert "600 字以内" in wechat.send_text(CONVENOR, "长" * 601).content
    assert "收件人：2 人" in wechat.send_text(CONVENOR, "第一稿内容").content
    assert "广播的内容" in wechat.send_text(CONVENOR, "改内容").content
    preview = wechat.send_text(CONVENOR, NOTICE).content
    assert NOTICE in preview and "第一稿内容" not in preview


@pytest.mark.usefixtures("room")
def test_report_waits_for_every_message(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """A broadcast with a message still being retried gets no report until that message is final."""
    fake.fail_next(CUSTOM_SEND_PATH, status=503)
    wechat.send_text(CONVENOR, "广播 明天上午停水，请提前储水。")  # the text can come with the command
    wechat.send_text(CONVENOR, "1")
    assert "已开始发送给 2 人" in wechat.send_text(CONVENOR, "确认").content
    drain(outbox_worker)
    assert report_finished_broadcasts(factory, clock.now()) == 0
    assert "待发 1" in wechat.send_text(CONVENOR, "广播记录").content
    clock.advance(timedelta(minutes=1))
    drain(outbox_worker)
    assert report_finished_broadcasts(factory, clock.now()) == 1
    drain(outbox_worker)
    (report,) = [c for _to, c in fake.sent_texts(CONVENOR) if "发送完成" in c]
    assert "（共 2 人）：送达 2 人。" in report


@pytest.mark.usefixtures("room")
def test_two_reporters_at_once_write_one_report(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    outbox_worker: OutboxWorker,
) -> None:
    """Two processes closing the same finished broadcast at the same moment queue exactly one report."""
    talk(wechat, CONVENOR, "广播", "1", NOTICE, "确认")
    drain(outbox_worker)
    start = threading.Barrier(2)
    results: list[int] = []

    def reporter() -> None:
        start.wait()
        results.append(report_finished_broadcasts(factory, clock.now()))

    threads = [threading.Thread(target=reporter) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1]
    with factory() as session:
        broadcast_id = session.scalars(select(Broadcast.id)).one()
        keys = session.scalars(select(OutboxMessage.idempotency_key)).all()
        assert [k for k in keys if k.startswith("broadcast-report:")] == [f"broadcast-report:{broadcast_id}"]


def test_failure_reasons_read_plainly() -> None:
    """Platform error codes become short Chinese reasons; unknown ones keep the platform's words."""
    assert reason("45015: response out of time limit or subscription is canceled") == "45015 超出48小时互动窗口"
    assert reason("43004: require subscribe") == "43004 对方未关注公众号"
    assert reason("43004: require subscribe", "unfollowed") == "对方已取消关注公众号"
    assert reason("failed:user block", "blocked") == "对方拒收此类消息"
    assert reason("failed: system failed") == "微信发送失败（system failed）"
    undelivered = "距对方最后一条消息已超过48小时；对方未开启「议事室通知」服务通知；未配置模板消息，无法在48小时外通知"
    assert reason(undelivered, "undelivered") == undelivered
    assert reason("-503: HTTP 503") == "微信服务器错误（HTTP 503）"
    assert reason("ReadTimeout") == "网络错误（ReadTimeout）"
    assert reason("未配置模板消息，无法在48小时外通知") == "未配置模板消息，无法在48小时外通知"
