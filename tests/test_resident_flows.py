"""Residents end to end, through real signed and encrypted callbacks: 提议题, 微建言, 我的."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.clock import FakeClock
from bot.services.privacy import Sealer
from bot.services.rooms import create_room
from bot.settings import Settings
from storage.db import transaction
from storage.models import DialogState, Proposal, ProposalSupporter, RoomLevel, StatusChange, Suggestion
from tests.helpers import talk
from tests.wxclient import DEFAULT_WECHAT, WeChatCallbackClient, WeComCallbackClient


@pytest.fixture
def rooms(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        create_room(session, name="幸福社区议事室", level=RoomLevel.village)
        create_room(session, name="青石镇议事室", level=RoomLevel.town)
        create_room(session, name="幸福村议事室", level=RoomLevel.village)


@pytest.mark.usefixtures("rooms")
def test_propose_full_dialog_to_receipt(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], settings: Settings
) -> None:
    """A resident proposes with photo, location and phone, confirms, and gets a YS receipt."""
    user = "o-resident-1"
    first = wechat.send_text(user, "提议题").content
    assert "1. 幸福社区议事室" in first and "回复序号" in first
    assert "幸福社区议事室" in wechat.send_text(user, "幸福社区").content
    assert "照片" in wechat.send_text(user, "幸福路北段路灯坏了一个多月，晚上很黑").content
    assert "位置" in wechat.send_image(user, pic_url="http://img/1.jpg", media_id="media-1").content
    assert "电话" in wechat.send_location(user, 31.2, 121.5, label="幸福路北段").content
    summary = wechat.send_text(user, "138 1234 5678").content
    assert "电话：138****5678" in summary and "照片：1 张" in summary and "位置：幸福路北段" in summary
    done = wechat.send_text(user, "确认").content
    assert "受理编号：YS-2026-" in done

    with factory() as session:
        proposal = session.scalars(select(Proposal)).one()
        assert proposal.receipt and proposal.receipt in done
        assert proposal.status == "submitted"
        assert proposal.photo_media_id == "media-1"
        assert (proposal.latitude, proposal.longitude) == (31.2, 121.5)
        assert proposal.phone_masked == "138****5678"
        assert "13812345678" not in (proposal.phone_cipher or "")
        assert Sealer(settings.secret_key.get_secret_value()).unseal(proposal.phone_cipher or "") == "13812345678"
        assert proposal.tags == "公共设施"  # the category, from 路灯
        history = session.scalars(select(StatusChange)).all()
        assert [(h.from_status, h.to_status) for h in history] == [(None, "submitted")]
        state = session.get(DialogState, proposal.proposer_id)
        assert state is not None and state.status == "closed" and state.drafts == []


@pytest.mark.usefixtures("rooms")
def test_room_is_remembered_and_dialog_data_keeps_no_plain_phone(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session]
) -> None:
    """The second proposal skips the room question; a phone typed mid-dialog is stored sealed."""
    user = "o-resident-2"
    talk(wechat, user, "提议题", "2", "青石镇菜市场门口积水严重", "跳过", "跳过", "跳过", "确认")
    second = wechat.send_text(user, "提议题").content
    assert "青石镇议事室" in second and "哪个议事室" not in second
    talk(wechat, user, "青石镇中学门口缺少斑马线", "跳过", "跳过", "13900001111")
    with factory() as session:
        state = session.scalars(select(DialogState)).one()
        assert "13900001111" not in str(state.data)
        assert state.data["phone_masked"] == "139****1111"


@pytest.mark.usefixtures("rooms")
def test_ambiguous_room_name_asks_which(wechat: WeChatCallbackClient) -> None:
    """A room name matching several rooms is answered with a numbered choice."""
    replies = talk(wechat, "o-amb", "提议题", "幸福", "2")
    assert "1. 幸福社区议事室" in replies[1] and "2. 幸福村议事室" in replies[1]
    assert "已选择：幸福村议事室" in replies[2]


@pytest.mark.usefixtures("rooms")
def test_typos_and_words_are_understood(wechat: WeChatCallbackClient) -> None:
    """A typo'd command, an option by name, a full-width digit and 确定 for 确认 all work."""
    replies = talk(wechat, "o-typo", "提意题", "１", "社区健身器材损坏需要维修", "不需要", "略过", "跳过", "确定")
    assert "哪个议事室" in replies[0]
    assert "已选择：幸福社区议事室" in replies[1]
    assert "YS-2026-" in replies[-1]


@pytest.mark.usefixtures("rooms")
def test_bad_answers_get_plain_guidance_and_change_nothing(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session]
) -> None:
    """Out-of-range numbers, too-short text, a bad phone and 跳过 on a required step each say what is expected."""
    replies = talk(wechat, "o-bad", "提议题", "9", "火星议事室", "1", "灯", "跳过", "路口红绿灯时间太短老人过不去")
    assert "1 到 3" in replies[1]
    assert "没有找到" in replies[2]
    assert "至少 5 个字" in replies[4]
    assert "不能跳过" in replies[5]
    replies = talk(wechat, "o-bad", "跳过", "跳过", "12345")
    assert "不像是电话号码" in replies[2]
    with factory() as session:
        assert session.scalars(select(Proposal)).first() is None


@pytest.mark.usefixtures("rooms")
def test_cancel_back_help_in_dialog(wechat: WeChatCallbackClient, factory: sessionmaker[Session]) -> None:
    """返回 re-asks the previous step, 帮助 explains the current one, 取消 leaves without storing."""
    replies = talk(wechat, "o-ctl", "提议题", "1", "返回", "1", "帮助", "取消")
    assert "哪个议事室" in replies[2]
    assert "【提议题】" in replies[4] and "「返回」" in replies[4]
    assert "已取消" in replies[5]
    with factory() as session:
        assert session.scalars(select(DialogState).where(DialogState.status == "active")).first() is None
        assert session.scalars(select(Proposal)).first() is None


@pytest.mark.usefixtures("rooms")
def test_confirm_early_jumps_to_summary(wechat: WeChatCallbackClient) -> None:
    """确认 after the description skips the optional steps and shows the summary."""
    replies = talk(wechat, "o-fast", "提议题", "1", "小区垃圾分类点气味很大", "确认")
    assert "请核对您的提议" in replies[-1] and "电话：未留" in replies[-1]


@pytest.mark.usefixtures("rooms")
def test_similar_proposal_can_be_supported(wechat: WeChatCallbackClient, factory: sessionmaker[Session]) -> None:
    """A second resident describing the same problem is shown the first proposal and supports it."""
    first = talk(
        wechat, "o-first", "提议题", "1", "幸福路北段路灯坏了一个多月，晚上很黑", "跳过", "跳过", "跳过", "确认"
    )
    receipt = first[-1].split("受理编号：")[1].split("\n")[0]
    replies = talk(wechat, "o-second", "提议题", "1", "幸福路的路灯不亮，晚上走路不安全")
    assert "相似的提议" in replies[-1] and receipt in replies[-1]
    done = wechat.send_text("o-second", "1").content
    assert f"已附议 {receipt}" in done
    mine = wechat.send_text("o-second", "我的").content
    assert receipt in mine and "［附议］" in mine
    with factory() as session:
        assert len(session.scalars(select(Proposal)).all()) == 1
        supporter = session.scalars(select(ProposalSupporter)).one()
        assert supporter.proposal_id == session.scalars(select(Proposal.id)).one()


@pytest.mark.usefixtures("rooms")
def test_similar_offer_can_be_declined(wechat: WeChatCallbackClient, factory: sessionmaker[Session]) -> None:
    """Replying 0 to the similar proposals files a new one."""
    talk(wechat, "o-a", "提议题", "1", "幸福路北段路灯坏了一个多月，晚上很黑", "跳过", "跳过", "跳过", "确认")
    replies = talk(wechat, "o-b", "提议题", "1", "幸福路路灯坏了，还有井盖松动", "0", "跳过", "跳过", "跳过", "确认")
    assert "照片" in replies[3]
    assert "YS-2026-" in replies[-1]
    with factory() as session:
        assert len(session.scalars(select(Proposal)).all()) == 2


@pytest.mark.usefixtures("rooms")
def test_micro_suggestion_and_my_items(wechat: WeChatCallbackClient, factory: sessionmaker[Session]) -> None:
    """微建言 files a suggestion with a WJ receipt; 我的 lists it; the receipt alone shows it."""
    replies = talk(wechat, "o-wj", "微建言", "1", "建议社区食堂周末也开放", "确认")
    assert "编号：WJ-2026-" in replies[-1]
    receipt = replies[-1].split("编号：")[1].split("\n")[0]
    mine = wechat.send_text("o-wj", "我的").content
    assert receipt in mine and "社区食堂" in mine
    detail = wechat.send_text("o-wj", receipt.lower()).content
    assert "微建言 " + receipt in detail and "建议社区食堂周末也开放" in detail
    with factory() as session:
        assert session.scalars(select(Suggestion)).one().receipt == receipt


@pytest.mark.usefixtures("rooms")
def test_inline_micro_suggestion(wechat: WeChatCallbackClient) -> None:
    """`微建言 内容` with a remembered room goes straight to confirmation."""
    talk(wechat, "o-inline", "微建言", "1", "公园里多放几个垃圾桶", "确认")
    reply = wechat.send_text("o-inline", "微建言 公交站加个遮雨棚").content
    assert "公交站加个遮雨棚" in reply and "确认" in reply


@pytest.mark.usefixtures("rooms")
def test_receipt_lookup_shows_history_to_the_owner_and_a_public_summary_to_others(
    wechat: WeChatCallbackClient,
) -> None:
    """A receipt shows the item and its history to its proposer; another resident sees what anyone may
    (content, status, supporters) and how to support it; an unknown number is not found."""
    done = talk(wechat, "o-owner", "提议题", "1", "电梯经常故障，老人上下楼困难", "确认", "确认")
    receipt = done[-1].split("受理编号：")[1].split("\n")[0]
    detail = wechat.send_text("o-owner", receipt).content
    assert "当前状态：已提交" in detail and "进展：" in detail
    public = wechat.send_text("o-stranger", receipt).content
    assert "电梯经常故障" in public and f"发「附议 {receipt}」" in public
    assert "进展：" not in public and "提交时间" not in public
    assert "没有找到" in wechat.send_text("o-owner", "YS-2026-999999").content


@pytest.mark.usefixtures("rooms")
def test_free_text_is_offered_for_filing(wechat: WeChatCallbackClient, factory: sessionmaker[Session]) -> None:
    """Free text outside a dialog is offered as a micro-suggestion or proposal and never lost."""
    offer = wechat.send_text("o-free", "小区里的快递柜太少了，经常放不下").content
    assert "收到您的留言" in offer and "1. 作为微建言提交" in offer
    replies = talk(wechat, "o-free", "1", "1", "确认")
    assert "快递柜" in replies[1]
    assert "WJ-2026-" in replies[-1]
    with factory() as session:
        assert "快递柜" in session.scalars(select(Suggestion)).one().text


@pytest.mark.usefixtures("rooms")
def test_free_text_offer_as_proposal(wechat: WeChatCallbackClient, factory: sessionmaker[Session]) -> None:
    """Choosing 作为议题提议 carries the text into the proposal dialog."""
    talk(wechat, "o-free2", "小区里的快递柜太少了，经常放不下")
    replies = talk(wechat, "o-free2", "提议", "1", "跳过", "跳过", "跳过", "确认")
    assert "YS-2026-" in replies[-1]
    with factory() as session:
        assert "快递柜" in session.scalars(select(Proposal)).one().description


@pytest.mark.usefixtures("rooms")
def test_command_mid_dialog_keeps_a_draft(wechat: WeChatCallbackClient) -> None:
    """Sending 我的 in the middle of a dialog answers it and keeps the dialog as a draft to continue."""
    replies = talk(wechat, "o-mid", "提议题", "1", "我的", "继续")
    assert "还没有提交过" in replies[2] and "草稿" in replies[2]
    assert "问题和想法" in replies[3]


@pytest.mark.usefixtures("rooms")
def test_idle_dialog_expires_into_a_resumable_draft(
    wechat: WeChatCallbackClient, clock: FakeClock, factory: sessionmaker[Session]
) -> None:
    """Back within a day, the next message answers the idle dialog (and says so); back after two days,
    the dialog waits as a draft (said once) and 继续 resumes it."""
    talk(wechat, "o-idle", "提议题", "1", "篮球场的围网破了一个大洞")
    clock.advance(timedelta(minutes=31))
    taken_up = wechat.send_text("o-idle", "在吗").content
    assert "接着您 31 分钟前没填完的「提议题」" in taken_up and "请发送图片" in taken_up
    clock.advance(timedelta(days=2))
    notice = wechat.send_text("o-idle", "在吗").content
    assert "2 天前填写的「提议题」没有填完，已保存为草稿" in notice and "继续" in notice
    resumed = wechat.send_text("o-idle", "继续").content
    assert "照片" in resumed
    done = talk(wechat, "o-idle", "跳过", "跳过", "跳过", "确认")
    assert "YS-2026-" in done[-1]
    with factory() as session:
        assert "围网" in session.scalars(select(Proposal)).one().description


@pytest.mark.usefixtures("rooms")
def test_wecom_user_can_propose(wecom: WeComCallbackClient, factory: sessionmaker[Session]) -> None:
    """A WeCom user walks the same dialog through the encrypted /wecom callback."""
    replies = talk(wecom, "LiWei", "提议题", "青石镇", "镇卫生院排队时间太长", "跳过", "跳过", "跳过", "确认")
    assert "YS-2026-" in replies[-1]
    with factory() as session:
        proposal = session.scalars(select(Proposal)).one()
        assert proposal.room.name == "青石镇议事室"


@pytest.mark.usefixtures("rooms")
def test_restart_between_steps_continues_the_dialog(
    db_url: str, settings: Settings, clock: FakeClock, factory: sessionmaker[Session]
) -> None:
    """The app is stopped and a new one started between two steps; the dialog finishes on the new one."""

    def start() -> tuple[FastAPI, TestClient]:
        app = create_app(settings, clock)
        return app, TestClient(app)

    _, http = start()
    with http:
        client = WeChatCallbackClient(http, clock=clock, **DEFAULT_WECHAT)
        talk(client, "o-restart", "提议题", "1", "社区图书室开放时间太短")
    _, http = start()
    with http:
        client = WeChatCallbackClient(http, clock=clock, **DEFAULT_WECHAT)
        replies = talk(client, "o-restart", "跳过", "跳过", "跳过", "确认")
    assert "YS-2026-" in replies[-1]
    with factory() as session:
        assert "图书室" in session.scalars(select(Proposal)).one().description
