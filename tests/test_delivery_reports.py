"""Delivery is known, not assumed (issue 11 item 8): WeChat's TEMPLATESENDJOBFINISH reports set a template
message's final status on its outbox row (found by the msgid the send answered), an unfollow stops every
send to that person (their rows end `unfollowed`, not retried) until they follow again, and the broadcast
report and 广播记录 count delivered, unconfirmed, refused and unfollowed recipients apart, with reasons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services import outbox, people
from bot.services.rooms import create_room
from bot.settings import Settings
from scheduler.broadcast_reports import CONFIRM_WAIT, report_finished_broadcasts
from scheduler.outbox import OutboxWorker
from storage.db import transaction
from storage.models import OutboxMessage, Person, Role, RoomLevel, RoomRole
from tests.conftest import make_settings
from tests.fake_wechat import CUSTOM_SEND_PATH, TEMPLATE_SEND_PATH, FakeWeChat
from tests.helpers import bind, drain, talk
from tests.wxclient import WeChatCallbackClient

CONVENOR = "o-convenor"
NEAR = "o-near"  # wrote today: the 48-hour window is open
FAR = ("o-far-1", "o-far-2", "o-far-3")  # never wrote: template messages
NOTICE = "本周六上午9点在社区活动室召开加装电梯协商会，欢迎大家参加。"


@pytest.fixture
def settings(db_url: str, fake: FakeWeChat) -> Settings:
    return make_settings(db_url, fake.base_url, wechat_template_result="tpl-result", wechat_template_reminder="tpl-rem")


def row_of(factory: sessionmaker[Session], user: str, key_prefix: str = "") -> OutboxMessage:
    with factory() as session:
        return session.scalars(
            select(OutboxMessage)
            .join(Person, Person.id == OutboxMessage.person_id)
            .where(Person.external_id == user, OutboxMessage.idempotency_key.startswith(key_prefix))
            .order_by(OutboxMessage.id.desc())
        ).first()  # type: ignore[return-value]


def queue_result(factory: sessionmaker[Session], clock: FakeClock, user: str, key: str) -> int:
    with transaction(factory) as session:
        person = people.get_or_create(session, channel="wechat", external_id=user)
        row = outbox.enqueue(
            session,
            person_id=person.id,
            kind="text",
            payload={"text": "【办理结果】路灯已修好", "template": "result"},
            key=key,
            now=clock.now(),
        )
        assert row is not None
        session.flush()
        return row.id


def msgid_sent_to(fake: FakeWeChat, user: str) -> str:
    (call,) = [c for c in fake.calls(TEMPLATE_SEND_PATH) if c.ok and c.json.get("touser") == user]
    assert isinstance(call.response, dict)
    return str(call.response["msgid"])


def test_template_job_reports_set_the_final_status_found_by_msgid(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """The msgid `template/send` answered is kept on the row; WeChat's report then makes it delivered, blocked
    (the person blocks the account's template messages) or failed, with the reason; retries change nothing."""
    for user in FAR:
        queue_result(factory, clock, user, f"result:1:{user}")
    drain(outbox_worker)
    ids = {user: msgid_sent_to(fake, user) for user in FAR}
    for user in FAR:
        row = row_of(factory, user)
        assert (row.status, row.via, row.msgid) == ("sent", "template", ids[user])

    assert wechat.template_job_finished(FAR[0], ids[FAR[0]], "success").is_empty
    assert wechat.template_job_finished(FAR[1], ids[FAR[1]], "failed:user block").is_empty
    assert wechat.template_job_finished(FAR[2], ids[FAR[2]], "failed: system failed").is_empty
    assert row_of(factory, FAR[0]).status == "delivered"
    blocked, failed = row_of(factory, FAR[1]), row_of(factory, FAR[2])
    assert blocked.status == "blocked" and blocked.last_error == "failed:user block"
    assert failed.status == "failed" and failed.last_error == "failed: system failed"

    # WeChat retries a report (the same event again): nothing moves. A report naming another person's
    # msgid, or a msgid we never sent, changes nothing either.
    assert wechat.template_job_finished(FAR[0], ids[FAR[0]], "success").is_empty
    assert wechat.template_job_finished(FAR[0], ids[FAR[1]], "success").is_empty
    assert wechat.template_job_finished(FAR[0], "999999999", "failed: system failed").is_empty
    assert [row_of(factory, u).status for u in FAR] == ["delivered", "blocked", "failed"]
    drain(outbox_worker)
    assert len(fake.calls(TEMPLATE_SEND_PATH)) == 3  # a final row is never sent again


def test_two_reports_for_one_person_in_the_same_second_are_both_taken(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """Events have no MsgId of their own: two reports to one person in one second differ by the MsgID they name."""
    queue_result(factory, clock, FAR[0], "result:1")
    queue_result(factory, clock, FAR[0], "result:2")
    drain(outbox_worker)
    first, second = (str(c.response["msgid"]) for c in fake.calls(TEMPLATE_SEND_PATH))  # type: ignore[index]
    wechat.template_job_finished(FAR[0], first, "success")
    wechat.template_job_finished(FAR[0], second, "failed:user block")
    assert row_of(factory, FAR[0], "result:1").status == "delivered"
    assert row_of(factory, FAR[0], "result:2").status == "blocked"


# --- broadcasts ------------------------------------------------------------------------------------


def room_with_members(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock, members: list[str]
) -> int:
    """A room whose convenor is bound from chat and whose members are NEAR (wrote just now) and the FAR ones."""
    with transaction(factory) as session:
        room = create_room(session, name="幸福社区议事室", level=RoomLevel.village)
        for user in members:
            person = people.get_or_create(session, channel="wechat", external_id=user)
            session.add(RoomRole(room_id=room.id, person_id=person.id, role=Role.member, created_at=clock.now()))
        room_id = room.id
    bind(wechat, factory, clock, CONVENOR, room_id=room_id, role=Role.convenor)
    if NEAR in members:
        wechat.send_text(NEAR, "你好")
    return room_id


def broadcast(wechat: WeChatCallbackClient, count: int) -> None:
    replies = talk(wechat, CONVENOR, "广播", "1", NOTICE, "确认")
    assert f"已开始发送给 {count} 人" in replies[-1]


def report_to_convenor(fake: FakeWeChat) -> str:
    (report,) = [c for _to, c in fake.sent_texts(CONVENOR) if "发送完成" in c]
    return report


def test_broadcast_report_waits_for_template_reports_and_counts_them(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """Customer-service messages count as delivered when sent; template messages wait for WeChat's report.
    广播记录 shows the counts as reports arrive; the report goes out once every template is reported."""
    room_with_members(wechat, factory, clock, [NEAR, *FAR])
    broadcast(wechat, 4)
    drain(outbox_worker)
    assert [c for c in fake.calls(CUSTOM_SEND_PATH) if c.json.get("touser") == NEAR]
    ids = {user: msgid_sent_to(fake, user) for user in FAR}

    assert report_finished_broadcasts(factory, clock.now()) == 0  # three templates not reported yet
    records = wechat.send_text(CONVENOR, "广播记录").content
    assert "送达 1，待确认 3" in records

    wechat.template_job_finished(FAR[0], ids[FAR[0]], "success")
    wechat.template_job_finished(FAR[1], ids[FAR[1]], "failed:user block")
    assert report_finished_broadcasts(factory, clock.now()) == 0
    records = wechat.send_text(CONVENOR, "广播记录").content
    assert "送达 2，待确认 1，未送达 1（拒收 1）" in records

    wechat.template_job_finished(FAR[2], ids[FAR[2]], "failed: system failed")
    assert report_finished_broadcasts(factory, clock.now()) == 1
    drain(outbox_worker)
    report = report_to_convenor(fake)
    assert "发送完成（共 4 人）：送达 2 人，未送达 2 人。" in report
    assert "对方拒收此类消息: 1 人" in report and "微信发送失败（system failed）: 1 人" in report
    assert "待确认" not in report
    records = wechat.send_text(CONVENOR, "广播记录").content
    assert "送达 2，未送达 2（拒收 1，失败 1）" in records and "已完成" in records


def test_broadcast_report_stops_waiting_for_reports_that_never_come(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """A template WeChat never reports on counts as sent but unconfirmed once CONFIRM_WAIT has passed."""
    room_with_members(wechat, factory, clock, [FAR[0]])
    broadcast(wechat, 1)
    drain(outbox_worker)
    clock.advance(CONFIRM_WAIT - timedelta(seconds=1))
    assert report_finished_broadcasts(factory, clock.now()) == 0
    clock.advance(timedelta(seconds=2))
    assert report_finished_broadcasts(factory, clock.now()) == 1
    drain(outbox_worker)
    report = report_to_convenor(fake)
    assert "发送完成（共 1 人）：送达 0 人，已发出、微信未确认送达 1 人。" in report
    # A report arriving after the broadcast report still lands on its row (广播记录 reads the rows).
    wechat.template_job_finished(FAR[0], msgid_sent_to(fake, FAR[0]), "success")
    assert "送达 1" in wechat.send_text(CONVENOR, "广播记录").content


# --- unfollowing -----------------------------------------------------------------------------------


def test_unfollow_stops_every_send_until_they_follow_again(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """取消关注: waiting rows end `unfollowed`, later ones too, with no API call; the person and their items
    stay. The report and 广播记录 say so. 关注 again clears the flag: new messages go out, old ones stay ended."""
    room_with_members(wechat, factory, clock, [NEAR, FAR[0]])
    queued = queue_result(factory, clock, FAR[0], "result:1")
    assert wechat.send_event(FAR[0], "unsubscribe").is_empty
    with factory() as session:
        person = session.scalars(select(Person).where(Person.external_id == FAR[0])).one()
        assert person.unfollowed_at == clock.now()
        row = session.get(OutboxMessage, queued)
        assert row is not None and row.status == "unfollowed"

    broadcast(wechat, 2)
    drain(outbox_worker)
    assert not [c for c in fake.calls() if c.json and c.json.get("touser") == FAR[0]]
    assert row_of(factory, FAR[0], "broadcast:").status == "unfollowed"
    assert report_finished_broadcasts(factory, clock.now()) == 1
    drain(outbox_worker)
    report = report_to_convenor(fake)
    assert "（共 2 人）：送达 1 人，未送达 1 人。" in report and "对方已取消关注公众号: 1 人" in report
    assert "未送达 1（已取消关注 1）" in wechat.send_text(CONVENOR, "广播记录").content

    clock.advance(timedelta(minutes=5))
    assert "欢迎" in wechat.send_event(FAR[0], "subscribe").content
    with factory() as session:
        assert session.scalars(select(Person.unfollowed_at).where(Person.external_id == FAR[0])).one() is None
    broadcast(wechat, 2)
    drain(outbox_worker)
    assert [c for c in fake.calls(CUSTOM_SEND_PATH) if c.json.get("touser") == FAR[0]]  # the follow opened the window
    assert row_of(factory, FAR[0], "result:").status == "unfollowed"  # not retried


def test_a_send_refused_for_not_following_marks_the_person_unfollowed(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """43004 (require subscribe) means the same as the unfollow event we missed: the row ends `unfollowed`
    and the person is flagged, so their next messages are not tried."""
    fake.fail_for(TEMPLATE_SEND_PATH, lambda body: body.get("touser") == FAR[0], 43004)
    queue_result(factory, clock, FAR[0], "result:1")
    drain(outbox_worker)
    row = row_of(factory, FAR[0])
    assert row.status == "unfollowed" and "43004" in (row.last_error or "")
    queue_result(factory, clock, FAR[0], "result:2")
    drain(outbox_worker)
    assert row_of(factory, FAR[0], "result:2").status == "unfollowed"
    assert len(fake.calls(TEMPLATE_SEND_PATH)) == 1
