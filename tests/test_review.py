"""The convenor's review queue (待审): accept, merge, decline with a reason, approve, told to the people."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock, local
from bot.services import notify, people, proposals, review
from bot.services.proposals import by_receipt, find_receipt
from bot.services.review import ReviewError
from bot.services.review_parse import parse_approval, parse_day, parse_shortcut, parse_target
from bot.services.rooms import create_room
from scheduler.outbox import OutboxWorker
from storage.db import transaction
from storage.models import OutboxMessage, Proposal, ProposalSupporter, Role, Room, RoomLevel, StatusChange
from tests.fake_wechat import FakeWeChat
from tests.helpers import bind
from tests.wxclient import WeChatCallbackClient

HAPPY = "幸福社区议事室"
STONE = "青石镇议事室"
LAMP = "幸福路的路灯坏了一个多月，晚上走路很黑"
PARKING = "小区停车位太少，电动车到处乱停堵住消防通道"
DOGS = "楼下有人遛狗不牵绳，小孩子很害怕"


def make_rooms(factory: sessionmaker[Session], *names: str) -> None:
    with transaction(factory) as session:
        for name in names:
            create_room(session, name=name, level=RoomLevel.village)


def make_convenor(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock, user: str, room: str
) -> None:
    with factory() as session:
        room_id = session.scalars(select(Room.id).where(Room.name == room)).one()
    bind(wechat, factory, clock, user, room_id=room_id, role=Role.convenor)


def file_proposal(wechat: WeChatCallbackClient, user: str, text: str, room: str = "幸福社区") -> str:
    """A resident files a proposal through the 提议题 dialog; returns its receipt."""
    reply = wechat.send_text(user, f"提议题 {text}").content
    for _ in range(8):
        if "受理编号" in reply:
            receipt = find_receipt(reply.split("受理编号：")[1])
            assert receipt is not None
            return receipt
        if "哪个议事室" in reply:
            answer = room
        elif "相似的提议" in reply:
            answer = "0"
        elif "请核对" in reply:
            answer = "确认"
        else:
            answer = "跳过"
        reply = wechat.send_text(user, answer).content
    raise AssertionError(reply)


def add_supporter(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock, user: str, receipt: str
) -> None:
    """A resident who has written to the account supports (附议) a proposal."""
    wechat.send_text(user, "我的")
    with transaction(factory) as session:
        person = people.get_or_create(session, channel="wechat", external_id=user)
        proposal = by_receipt(session, receipt=receipt)
        assert proposal is not None
        assert proposals.support(session, proposal_id=proposal.id, person_id=person.id, now=clock.now())


def proposal(factory: sessionmaker[Session], receipt: str) -> Proposal:
    with factory() as session:
        found = by_receipt(session, receipt=receipt)
        assert found is not None
        session.expunge(found)
        return found


def status_rows(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return len(session.scalars(select(StatusChange)).all())


def outbox_rows(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return len(session.scalars(select(OutboxMessage)).all())


def texts(fake: FakeWeChat, user: str) -> str:
    return "\n---\n".join(content for _, content in fake.sent_texts(user))


@pytest.fixture
def happy(wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock) -> dict[str, str]:
    """幸福社区 with a convenor (o-conv), a lamp proposal by o-res1 supported by o-sup1, and a parking one."""
    make_rooms(factory, HAPPY, STONE)
    make_convenor(wechat, factory, clock, "o-conv", HAPPY)
    lamp = file_proposal(wechat, "o-res1", LAMP)
    add_supporter(wechat, factory, clock, "o-sup1", lamp)
    clock.advance(timedelta(minutes=5))
    parking = file_proposal(wechat, "o-res2", PARKING)
    return {"lamp": lamp, "parking": parking}


def test_accept_through_the_menu_tells_proposer_and_supporter(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
    happy: dict[str, str],
) -> None:
    """待审 lists newest first with supporters and categories; 1, 受理, 确认 accepts; proposer and supporter are told."""
    listing = wechat.send_text("o-conv", "待审").content
    assert f"「{HAPPY}」待审提议" in listing
    assert listing.index(happy["parking"]) < listing.index(happy["lamp"])
    assert "2. " + happy["lamp"] in listing and "1 人附议" in listing and "分类：公共设施" in listing
    item = wechat.send_text("o-conv", "2").content
    assert LAMP in item and "1. 受理" in item and "5. 返回列表" in item
    preview = wechat.send_text("o-conv", "受理").content
    assert "请核对" in preview and "操作：受理" in preview and happy["lamp"] in preview
    assert proposal(factory, happy["lamp"]).status == "submitted"
    done = wechat.send_text("o-conv", "确认").content
    assert f"{happy['lamp']} 已受理" in done and "共 2 人" in done
    assert f"［已受理］{happy['lamp']}" in done  # the fresh list follows

    assert proposal(factory, happy["lamp"]).status == "accepted"
    outbox_worker.run_once()
    told = texts(fake, "o-res1")
    assert f"您提交的提议 {happy['lamp']}" in told and "已被「幸福社区议事室」受理" in told
    assert f"您附议的提议 {happy['lamp']}" in texts(fake, "o-sup1")
    assert texts(fake, "o-res2") == "" and texts(fake, "o-conv") == ""
    assert "已受理" in wechat.send_text("o-res1", "我的").content
    assert "当前状态：已受理" in wechat.send_text("o-res1", happy["lamp"]).content


def test_accepted_item_stays_listed_and_cannot_be_accepted_twice(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], happy: dict[str, str]
) -> None:
    """An accepted proposal is listed as 已受理; its menu no longer offers 受理, and 受理 typed anyway gets a
    plain sentence and changes nothing."""
    wechat.send_text("o-conv", "待审")
    wechat.send_text("o-conv", "受理 2")
    wechat.send_text("o-conv", "确认")
    listing = wechat.send_text("o-conv", "待审").content
    assert f"［已受理］{happy['lamp']}" in listing
    before = status_rows(factory)
    item = wechat.send_text("o-conv", "2").content
    assert "状态：已受理" in item and "1. 合并到另一条" in item and ". 受理" not in item
    refused = wechat.send_text("o-conv", "受理").content
    assert "已经是「已受理」了" in refused
    assert status_rows(factory) == before


def test_merge_moves_supporters_and_tells_which_receipt(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
    happy: dict[str, str],
) -> None:
    """合并 1 到 YS-…: the merged proposal's proposer and supporters support the target (no duplicates, not its proposer)."""
    add_supporter(wechat, factory, clock, "o-sup2", happy["parking"])
    add_supporter(wechat, factory, clock, "o-res1", happy["parking"])  # the target's own proposer
    add_supporter(wechat, factory, clock, "o-sup1", happy["parking"])  # already supports the target
    wechat.send_text("o-conv", "待审")
    preview = wechat.send_text("o-conv", f"合并 1 到 {happy['lamp']}").content
    assert f"操作：合并到 {happy['lamp']}" in preview
    assert f"已把 {happy['parking']} 并入 {happy['lamp']}" in wechat.send_text("o-conv", "确认").content

    merged, target = proposal(factory, happy["parking"]), proposal(factory, happy["lamp"])
    assert merged.status == "merged" and merged.merged_into_id == target.id
    with factory() as session:
        supporters = session.scalars(
            select(ProposalSupporter.person_id).where(ProposalSupporter.proposal_id == target.id)
        ).all()
    assert len(supporters) == len(set(supporters)) == 3  # o-sup1, o-res2, o-sup2
    assert target.proposer_id not in supporters

    outbox_worker.run_once()
    told = texts(fake, "o-res2")
    assert f"{happy['parking']}" in told and f"已并入 {happy['lamp']}" in told
    assert f"已并入 {happy['lamp']}" in texts(fake, "o-sup2")
    assert "当前状态：已合并" in wechat.send_text("o-res2", happy["parking"]).content
    assert f"提议 {happy['lamp']}" in wechat.send_text("o-res2", happy["lamp"]).content
    mine = wechat.send_text("o-res2", "我的").content
    assert "已合并" in mine and f"并入 {happy['lamp']}" in mine


def test_merge_into_another_list_number(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], happy: dict[str, str]
) -> None:
    """`合并 1 2` merges list item 1 into list item 2; merging into itself is refused plainly."""
    wechat.send_text("o-conv", "待审")
    assert "不能把一条提议合并到它自己" in wechat.send_text("o-conv", "合并 1 1").content
    preview = wechat.send_text("o-conv", "2").content
    assert f"操作：合并到 {happy['lamp']}" in preview
    wechat.send_text("o-conv", "确认")
    assert proposal(factory, happy["parking"]).status == "merged"


def test_decline_requires_a_reason(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
    happy: dict[str, str],
) -> None:
    """Without a reason the bot asks for one and nothing changes; with one, the proposer reads it."""
    before = status_rows(factory)
    wechat.send_text("o-conv", "待审")
    asked = wechat.send_text("o-conv", "不予采纳 2").content
    assert "请写明不予采纳" in asked and "理由" in asked
    assert "不能跳过" in wechat.send_text("o-conv", "无").content
    assert "还不能提交" in wechat.send_text("o-conv", "确认").content
    assert "已取消" in wechat.send_text("o-conv", "取消").content
    assert proposal(factory, happy["lamp"]).status == "submitted"
    assert status_rows(factory) == before and outbox_rows(factory) == 0

    wechat.send_text("o-conv", "待审")
    preview = wechat.send_text("o-conv", "不予采纳 2 理由：该路段属市政道路，已转交城管部门").content
    assert "理由：该路段属市政道路，已转交城管部门" in preview
    wechat.send_text("o-conv", "确认")
    assert proposal(factory, happy["lamp"]).status == "declined"
    outbox_worker.run_once()
    told = texts(fake, "o-res1")
    assert "不予采纳" in told and "理由：该路段属市政道路，已转交城管部门" in told
    assert "该路段属市政道路" in texts(fake, "o-sup1")
    mine = wechat.send_text("o-res1", "我的").content
    assert "不予采纳" in mine and "该路段属市政道路" in mine
    assert "不予采纳（该路段属市政道路，已转交城管部门）" in wechat.send_text("o-res1", happy["lamp"]).content


def test_approve_records_unit_and_date(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
    happy: dict[str, str],
) -> None:
    """审定 asks for the unit and the date, shows them, and records them; the people are told."""
    wechat.send_text("o-conv", "待审")
    wechat.send_text("o-conv", "2")
    assert "审定单位" in wechat.send_text("o-conv", "4").content
    assert "审定日期是哪一天" in wechat.send_text("o-conv", "幸福镇党委").content
    assert "看不懂这个日期" in wechat.send_text("o-conv", "下个月吧").content
    preview = wechat.send_text("o-conv", "12月1日").content
    assert "审定单位：幸福镇党委" in preview and "审定日期：2026年12月1日" in preview
    wechat.send_text("o-conv", "确认")

    approved = proposal(factory, happy["lamp"])
    assert approved.status == "approved" and approved.approval_unit == "幸福镇党委"
    assert approved.approved_at is not None and local(approved.approved_at).date() == date(2026, 12, 1)
    outbox_worker.run_once()
    told = texts(fake, "o-res1")
    assert "已审定为协商议题" in told and "幸福镇党委" in told and "2026年12月1日" in told
    assert "已审定为协商议题" in texts(fake, "o-sup1")
    assert "当前状态：已审定" in wechat.send_text("o-res1", happy["lamp"]).content


def test_approve_in_one_line(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], happy: dict[str, str]
) -> None:
    """`审定 1 审定单位 XX 日期 今天` lands on the preview; a missing date is asked for."""
    wechat.send_text("o-conv", "待审")
    preview = wechat.send_text("o-conv", "审定 1 审定单位 青石镇党委 日期 今天").content
    assert "审定单位：青石镇党委" in preview and "审定日期：2026年11月23日" in preview
    assert "已取消" in wechat.send_text("o-conv", "取消").content
    assert "审定日期是哪一天" in wechat.send_text("o-conv", "审定 1 青石镇党委").content
    wechat.send_text("o-conv", "2026-11-20")
    wechat.send_text("o-conv", "确认")
    approved = proposal(factory, happy["parking"])
    assert approved.approval_unit == "青石镇党委" and approved.approved_at is not None
    assert local(approved.approved_at).date() == date(2026, 11, 20)


def test_resident_is_refused_and_nothing_changes(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], happy: dict[str, str]
) -> None:
    """A resident sending 待审 or 受理 1 is told plainly it is for convenors, and nothing changes."""
    before = status_rows(factory)
    assert "召集人使用的功能" in wechat.send_text("o-res1", "待审").content
    assert "召集人使用的功能" in wechat.send_text("o-res1", "受理 1").content
    assert "召集人使用的功能" in wechat.send_text("o-res1", "不予采纳 1 理由重复").content
    assert status_rows(factory) == before and outbox_rows(factory) == 0
    assert proposal(factory, happy["lamp"]).status == "submitted"


def test_convenor_of_another_room_cannot_act(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock, happy: dict[str, str]
) -> None:
    """A convenor of 青石镇 sees only their room; picking or acting on a 幸福社区 proposal is refused."""
    make_convenor(wechat, factory, clock, "o-stone", STONE)
    assert f"「{STONE}」目前没有待审的提议" in wechat.send_text("o-stone", "待审").content
    assert f"您不是「{HAPPY}」的召集人" in wechat.send_text("o-stone", "待审 幸福社区").content
    file_proposal(wechat, "o-res3", DOGS, room="青石镇")
    assert DOGS[:10] in wechat.send_text("o-stone", "待审").content
    refused = wechat.send_text("o-stone", happy["lamp"]).content
    assert "您不是这个议事室的召集人" in refused
    before = status_rows(factory)
    lamp_id = proposal(factory, happy["lamp"]).id
    with transaction(factory) as session:
        actor = people.get_or_create(session, channel="wechat", external_id="o-stone")
        lamp = review.load(session, proposal_id=lamp_id)
        assert lamp is not None
        with pytest.raises(ReviewError, match="不是这个议事室的召集人"):
            review.accept(session, proposal=lamp, actor_id=actor.id, now=clock.now(), tz="Asia/Shanghai")
    assert status_rows(factory) == before
    assert proposal(factory, happy["lamp"]).status == "submitted"


def test_numbers_refer_to_what_was_shown(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], happy: dict[str, str]
) -> None:
    """A proposal filed after the list was shown does not shift the numbers the convenor acts on."""
    wechat.send_text("o-conv", "待审")  # 1. parking  2. lamp
    newer = file_proposal(wechat, "o-res3", DOGS)
    preview = wechat.send_text("o-conv", "受理 2").content
    assert happy["lamp"] in preview and newer not in preview
    after = wechat.send_text("o-conv", "确认").content
    assert proposal(factory, happy["lamp"]).status == "accepted"
    assert proposal(factory, newer).status == "submitted"
    assert after.index(newer) < after.index(happy["parking"])  # the fresh list, newest first


def test_several_rooms_say_which_is_shown(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock, happy: dict[str, str]
) -> None:
    """A convenor of two rooms sees their first room, is told of the other, and can pick it by a rough name."""
    make_convenor(wechat, factory, clock, "o-conv", STONE)
    file_proposal(wechat, "o-res3", DOGS, room="青石镇")
    first = wechat.send_text("o-conv", "待审").content
    assert f"「{HAPPY}」待审提议" in first and f"您还是「{STONE}」的召集人" in first
    other = wechat.send_text("o-conv", "审核 青石").content
    assert f"「{STONE}」待审提议" in other and DOGS[:10] in other and happy["lamp"] not in other


def test_reading_one_line_forms() -> None:
    """Shortcuts, targets, reasons and dates are read as people write them."""
    today = date(2026, 11, 23)
    shortcut = parse_shortcut("不予采纳 ２ 理由：重复提议")
    assert shortcut is not None and (shortcut.action, shortcut.ref, shortcut.rest) == ("decline", 2, "理由：重复提议")
    assert parse_shortcut("处理 ys2026000007") == parse_shortcut("YS-2026-000007")
    assert parse_shortcut("1 路灯") is None and parse_shortcut("路灯坏了") is None
    assert parse_target("到 YS-2026-000002") == "YS-2026-000002" and parse_target("到第2条") == 2
    assert parse_approval("审定单位 XX镇党委 日期 2026-12-01", today) == ("XX镇党委", date(2026, 12, 1), False)
    assert parse_approval("XX镇党委，昨天", today) == ("XX镇党委", date(2026, 11, 22), False)
    assert parse_approval("XX镇党委 13月40日", today)[2] is True
    assert parse_day("2026年12月1日", today) == date(2026, 12, 1) and parse_day("明年", today) is None


def test_status_news_is_queued_once_per_person(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock, happy: dict[str, str]
) -> None:
    """Telling people of the same change twice queues one message per person, keyed by change and person."""
    wechat.send_text("o-conv", "待审")
    wechat.send_text("o-conv", "受理 2")
    wechat.send_text("o-conv", "确认")
    lamp_id = proposal(factory, happy["lamp"]).id
    with transaction(factory) as session:
        lamp = session.get(Proposal, lamp_id)
        assert lamp is not None
        change = session.scalars(
            select(StatusChange).where(StatusChange.proposal_id == lamp_id, StatusChange.to_status == "accepted")
        ).one()
        assert notify.notify_status_change(session, proposal=lamp, change=change, now=clock.now()) == 0
    with factory() as session:
        keys = sorted(session.scalars(select(OutboxMessage.idempotency_key)))
    assert len(keys) == 2 and all(key.startswith(f"status:{lamp_id}:{change.id}:") for key in keys)


def test_action_word_without_a_number_says_what_to_add(wechat: WeChatCallbackClient, happy: dict[str, str]) -> None:
    """`审定` alone tells the convenor to add the list number, and starts nothing."""
    reply = wechat.send_text("o-conv", "审定").content
    assert "请在「审定」后写上待审列表的序号或受理编号" in reply
    assert "待审提议" in wechat.send_text("o-conv", "待审").content
