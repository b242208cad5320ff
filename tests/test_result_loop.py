"""The whole result loop through the real signed callbacks: propose, support, approve, schedule,
record the three lists from chat, publish the feedback list, residents told (one inside the 48-hour
window by customer-service message, one outside it by template message), ratings counted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services import stats
from bot.settings import Settings
from scheduler.outbox import OutboxWorker
from storage.models import ListItem, ListItemLink, OutboxMessage, Proposal, ResultDelivery, Role, Room
from tests.conftest import make_settings
from tests.fake_wechat import FakeWeChat
from tests.helpers import bind, talk, texts_to
from tests.test_review import file_proposal, make_rooms
from tests.wxclient import WeChatCallbackClient

HAPPY = "幸福社区议事室"
LAMP = "幸福路北段的路灯坏了一个多月，晚上走路很黑"
AFTER_SESSION = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)  # 17:30 in Shanghai, the session is over


@pytest.fixture
def settings(db_url: str, fake: FakeWeChat) -> Settings:
    return make_settings(db_url, fake.base_url, wechat_template_result="tpl-result")


def _support_through_the_dialog(wechat: WeChatCallbackClient, user: str, receipt: str) -> None:
    """A second resident writes about the same lamp and, shown the similar proposal, supports it."""
    reply = wechat.send_text(user, "提议题 幸福路北段路灯坏了，晚上太黑了").content
    if "哪个议事室" in reply:
        reply = wechat.send_text(user, "幸福社区").content
    assert "相似的提议" in reply and receipt in reply
    assert f"已附议 {receipt}" in wechat.send_text(user, "1").content


def _room_id(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return s.scalars(select(Room.id).where(Room.name == HAPPY)).one()


def test_results_reach_proposer_and_supporter_and_their_ratings_count(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    make_rooms(factory, HAPPY)
    bind(wechat, factory, clock, "o-conv", room_id=_room_id(factory), role=Role.convenor)
    bind(wechat, factory, clock, "o-member", room_id=_room_id(factory), role=Role.member)
    lamp = file_proposal(wechat, "o-res1", LAMP)
    _support_through_the_dialog(wechat, "o-res2", lamp)

    # Review: accept, then approve as a topic (审定) in one line each.
    talk(wechat, "o-conv", "待审")
    assert "已受理" in "".join(talk(wechat, "o-conv", "受理 1", "确认"))
    talk(wechat, "o-conv", "待审")
    preview = wechat.send_text("o-conv", "审定 1 审定单位 幸福社区党委 日期 今天").content
    assert "审定单位：幸福社区党委" in preview
    wechat.send_text("o-conv", "确认")

    # Schedule the session on this topic (online, so residents can follow it).
    replies = talk(
        wechat, "o-conv", "新建协商", "1", "跳过", "12月3日下午3点", "跳过", "社区二楼会议室", "网络", "1", "跳过"
    )
    assert "请核对这次协商" in replies[-1], replies
    done = wechat.send_text("o-conv", "确认").content
    assert "已创建会议 1" in done

    outbox_worker.run_once()  # the worker runs all along: acceptance and invitation notices go out now
    clock.set(AFTER_SESSION)
    # o-res1 writes today: the 48-hour window is open. o-res2 last wrote ten days ago: it is closed.
    wechat.send_text("o-res1", "我的")

    # The three lists, each in one message with several lines, previewed, then 确认.
    kinds = wechat.send_text("o-conv", "清单").content
    assert "协商建议清单（已有 0 条）" in kinds and "结果反馈清单（已有 0 条）" in kinds
    prompt = wechat.send_text("o-conv", "1").content
    assert "一行一条" in prompt and f"#1 {lamp}" in prompt
    preview = wechat.send_text("o-conv", "#1 在幸福路北段加装两盏路灯\n#1 路灯坏了设报修电话").content
    assert "共 2 条" in preview and "〔关联 #1〕" in preview
    assert "已记录协商建议清单 2 条" in wechat.send_text("o-conv", "确认").content

    talk(wechat, "o-conv", "清单", "责任")
    bad = wechat.send_text("o-conv", "#1 加装路灯｜社区居委会｜下辈子").content
    assert "第1行" in bad and "截止日期" in bad and "都还没有记录" in bad
    preview = wechat.send_text("o-conv", "#1 加装路灯｜幸福社区居委会｜12月31日").content
    assert "责任单位：幸福社区居委会" in preview and "截止：2026-12-31" in preview
    assert "已记录责任落实清单 1 条" in wechat.send_text("o-conv", "确认").content

    wechat.send_text("o-conv", "清单 反馈")
    preview = wechat.send_text("o-conv", "#1 加装路灯｜已装好两盏，12月20日起亮灯｜采纳").content
    assert "已采纳" in preview
    stored = wechat.send_text("o-conv", "确认").content
    assert "已记录结果反馈清单 1 条" in stored and "发布反馈" in stored

    with factory() as s:
        items = s.scalars(select(ListItem).order_by(ListItem.id)).all()
        assert [i.kind for i in items] == ["suggestions", "suggestions", "responsibilities", "feedback"]
        assert items[2].unit == "幸福社区居委会" and items[2].deadline is not None
        links = s.scalars(select(ListItemLink.proposal_id)).all()
        lamp_id = s.scalars(select(Proposal.id).where(Proposal.receipt == lamp)).one()
        assert set(links) == {lamp_id}
        assert s.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.like("result:%"))).all() == []

    # Publish: the preview says who will be told; 确认 queues one message per resident.
    confirm = wechat.send_text("o-conv", "发布反馈").content
    assert "结果反馈清单 1 条" in confirm and "通知 2 位" in confirm
    assert "正在通知 2 位群众" in wechat.send_text("o-conv", "确认").content
    assert "没有待发布" in wechat.send_text("o-conv", "发布反馈").content

    outbox_worker.run_once()
    told = [t for t in texts_to(fake, "o-res1") if "已装好两盏" in t]
    assert len(told) == 1 and "满意" in told[0]
    [template] = fake.template_sends("o-res2")
    assert template["template_id"] == "tpl-result"
    assert "加装路灯" in str(template["data"]) and "已采纳" in str(template["data"])
    assert not [t for t in texts_to(fake, "o-res2") if "已装好两盏" in t]
    with factory() as s:
        assert s.scalars(select(Proposal.status).where(Proposal.receipt == lamp)).one() == "answered"

    # Both rate: one with a comment, one with the bare word.
    assert "谢谢" in wechat.send_text("o-res1", "满意 路灯亮了很方便").content
    assert "谢谢" in wechat.send_text("o-res2", "基本满意").content
    with factory() as s:
        ratings = {d.person_id: (d.rating, d.rating_comment) for d in s.scalars(select(ResultDelivery))}
        assert sorted(ratings.values(), key=str) == sorted(
            [("satisfied", "路灯亮了很方便"), ("basically", None)], key=str
        )
        [by_room] = stats.ratings_by_room(s)
        assert (by_room.satisfied, by_room.basically, by_room.unsatisfied, by_room.total) == (1, 1, 0, 2)
        [by_session] = stats.ratings_by_session(s)
        assert by_session.total == 2
        assert stats.adoption_rate(s) == 1.0
