"""场外协商、场内回应: the signed live page, its feed, 现场 and 回应 from chat, answering from the page."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services import live
from bot.services.rooms import create_room
from scheduler.outbox import OutboxWorker
from storage.db import transaction
from storage.models import ConsultSession, OutboxMessage, Role, RoomLevel, Suggestion
from tests.fake_wechat import FakeWeChat
from tests.helpers import (
    CONVENOR,
    DEC3_1500,
    STANDARD,
    SessionRoom,
    bind,
    make_room,
    only_session,
    schedule,
    talk,
    texts_to,
)
from tests.wxclient import WeChatCallbackClient, WeComCallbackClient

RESIDENT = "o-resident-0001"
# STANDARD with 网络 (online) as the format.
ONLINE = [*STANDARD[:5], "3", *STANDARD[6:]]
HOSTILE = ["<script>alert(1)</script>", "'; DROP TABLE suggestions; --"]
LINK = re.compile(r"http://127\.0\.0\.1:8000(/live/\d+\?key=[0-9a-f]+)")


def online_room(factory: sessionmaker[Session], clock: FakeClock, wecom: WeComCallbackClient) -> SessionRoom:
    """A room with an online session (2026-12-03 15:00–17:00), the clock ten minutes into it."""
    room = make_room(factory, clock, wecom, members=2, representatives=1)
    assert "已创建会议" in schedule(wecom, ONLINE)[-1]
    clock.set(DEC3_1500 + timedelta(minutes=10))
    return room


def suggest(wechat: WeChatCallbackClient, text: str, user: str = RESIDENT) -> str:
    """A resident sends a 微建言; its receipt."""
    reply = talk(wechat, user, "微建言", "1", text, "确认")[-1]
    found = re.search(r"WJ-\d{4}-\d{6}", reply)
    assert found, reply
    return found.group(0)


def answers_queued(factory: sessionmaker[Session]) -> int:
    """Outbox rows telling a resident their micro-suggestion was answered."""
    with factory() as session:
        keys = session.scalars(select(OutboxMessage.idempotency_key)).all()
    return sum(1 for key in keys if key.startswith("suggestion-answer:"))


def live_path(wecom: WeComCallbackClient, rest: str = "") -> str:
    reply = talk(wecom, CONVENOR, f"现场 {rest}".strip())[0]
    found = LINK.search(reply)
    assert found, reply
    return found.group(1)


def test_convenor_gets_the_link_and_the_page_shows_suggestions_literally_newest_first(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    client: TestClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    """现场 gives the signed page; residents' text appears newest first, escaped, without openids or names."""
    online_room(factory, clock, wecom)
    consult = only_session(factory)
    reply = talk(wecom, CONVENOR, "现场")[0]
    assert f"会议 {consult.id}" in reply and "回应 编号" in reply
    path = live_path(wecom)
    receipts = []
    for text in [*HOSTILE, "希望食堂周末也开放"]:
        receipts.append(suggest(wechat, text))
        clock.advance(timedelta(minutes=1))

    page = client.get(path)
    assert page.status_code == 200
    assert consult.title in page.text and "<script>alert" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    feed = client.get(path.replace("?", "/feed?")).json()
    assert [item["text"] for item in feed["items"]] == ["希望食堂周末也开放", *reversed(HOSTILE)]
    assert [item["receipt"] for item in feed["items"]] == list(reversed(receipts))
    assert feed["items"][0]["time"] == "15:12" and feed["phase"] == "进行中"
    assert feed["total"] == 3 and feed["answered"] == 0
    assert RESIDENT not in str(feed) and {item["who"] for item in feed["items"]} == {"居民"}
    with factory() as session:  # the hostile text was stored as text, and the table is still there
        assert session.scalars(select(Suggestion.text).order_by(Suggestion.id)).first() == HOSTILE[0]


def test_page_feed_and_answer_need_the_right_key(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    client: TestClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    """Without the key, with a wrong one or with another session's: 403 in Chinese, and nothing changes."""
    online_room(factory, clock, wecom)
    consult = only_session(factory)
    suggest(wechat, "路灯还没修好")
    with factory() as session:
        note_id = session.scalars(select(Suggestion.id)).one()
    other = live.sign(consult.id + 1, secret="test-secret-key")
    for query in ["", "?key=", "?key=0123456789abcdef0123456789abcdef", f"?key={other}"]:
        page = client.get(f"/live/{consult.id}{query}")
        assert page.status_code == 403 and "现场" in page.text and "路灯" not in page.text
        feed = client.get(f"/live/{consult.id}/feed{query}")
        assert feed.status_code == 403 and "items" not in feed.json()
        posted = client.post(f"/live/{consult.id}/suggestions/{note_id}/answer{query}", json={"answer": "好"})
        assert posted.status_code == 403
    assert client.get("/live/abc?key=x").status_code == 403
    assert answers_queued(factory) == 0
    with factory() as session:
        assert session.scalars(select(Suggestion.status)).one() == "submitted"


def test_answer_from_chat_tells_the_sender_once(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    client: TestClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """回应 with a loosely typed receipt marks it answered, shows it on the page and tells the resident once."""
    online_room(factory, clock, wecom)
    receipt = suggest(wechat, "小区门口的路灯坏了")
    path = live_path(wecom)
    typed = receipt.lower().replace("-", "", 1)  # wj2026-000001
    reply = talk(wecom, CONVENOR, f"回应 {typed} 已安排物业本周修好")[0]
    assert f"已回应 {receipt}" in reply and "已通知" in reply
    again = talk(wecom, CONVENOR, f"回应 {receipt} 再说一遍")[0]
    assert "已经回应过了" in again
    while outbox_worker.run_once():
        pass

    told = [t for t in texts_to(fake, RESIDENT) if "现场回应" in t]
    assert len(told) == 1
    assert "已得到现场回应：已安排物业本周修好" in told[0] and only_session(factory).title[:10] in told[0]
    item = client.get(path.replace("?", "/feed?")).json()["items"][0]
    assert item["answered"] and item["answer"] == "已安排物业本周修好"
    with factory() as session:
        note = session.scalars(select(Suggestion)).one()
        assert note.status == "answered" and note.answered_at == clock.now()
    detail = talk(wechat, RESIDENT, receipt)[0]
    assert "已答复" in detail and "已安排物业本周修好" in detail


def test_answer_from_the_page_tells_the_sender_once(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    client: TestClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """The page's button (a POST with the key) answers it; a second click or a chat 回应 tells nobody again."""
    online_room(factory, clock, wecom)
    receipt = suggest(wechat, "希望增加停车位")
    path, query = live_path(wecom).split("?")
    with factory() as session:
        note_id = session.scalars(select(Suggestion.id)).one()
    first = client.post(f"{path}/suggestions/{note_id}/answer?{query}", json={"answer": "会后与物业商量"})
    assert first.status_code == 200 and first.json()["changed"] is True
    second = client.post(f"{path}/suggestions/{note_id}/answer?{query}", json={})
    assert second.status_code == 200 and second.json()["changed"] is False
    assert "已经回应过了" in talk(wecom, CONVENOR, f"回应 {receipt}")[0]
    assert client.post(f"{path}/suggestions/{note_id + 99}/answer?{query}").status_code == 404
    while outbox_worker.run_once():
        pass
    told = [t for t in texts_to(fake, RESIDENT) if "现场回应" in t]
    assert len(told) == 1 and "会后与物业商量" in told[0]


def test_a_week_after_the_session_the_page_no_longer_answers(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    client: TestClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    """The screen link still shows the comments, but its button changes nothing; 回应 in chat still works."""
    online_room(factory, clock, wecom)
    receipt = suggest(wechat, "希望增加停车位")
    path, query = live_path(wecom).split("?")
    with factory() as session:
        note_id = session.scalars(select(Suggestion.id)).one()
        ends_at = session.scalars(select(ConsultSession.ends_at)).one()
    clock.set(ends_at + timedelta(days=7, minutes=1))
    refused = client.post(f"{path}/suggestions/{note_id}/answer?{query}", json={"answer": "好"})
    assert refused.status_code == 403 and "回应 编号 内容" in refused.json()["error"]
    assert client.get(f"{path}/feed?{query}").status_code == 200
    with factory() as session:
        assert session.scalars(select(Suggestion.status)).one() != "answered"
    assert "已回应" in talk(wecom, CONVENOR, f"回应 {receipt} 已转物业")[0]


def test_only_a_convenor_of_the_room_may_answer_or_get_the_link(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    """Residents and members are refused; another room's convenor finds nothing; nothing changes."""
    room = online_room(factory, clock, wecom)
    receipt = suggest(wechat, "希望增加停车位")
    assert "召集人使用的功能" in talk(wechat, RESIDENT, f"回应 {receipt} 好")[0]
    assert "召集人使用的功能" in talk(wechat, RESIDENT, "现场")[0]
    assert "召集人使用的功能" in talk(wecom, room.members[0], f"回应 {receipt} 好")[0]
    with transaction(factory) as session:
        other_room = create_room(session, name="和平社区议事室", level=RoomLevel.village).id
    bind(wecom, factory, clock, "boss2", room_id=other_room, role=Role.convenor)
    assert "没有找到您议事室编号为" in talk(wecom, "boss2", f"回应 {receipt} 好")[0]
    assert "没有找到您议事室的会议" in talk(wecom, "boss2", f"现场 {only_session(factory).id}")[0]
    assert "没有正在进行或即将举行" in talk(wecom, "boss2", "现场")[0]
    with factory() as session:
        assert session.scalars(select(Suggestion.status)).one() == "submitted"
    assert answers_queued(factory) == 0


def test_bad_receipts_and_other_sessions_get_a_plain_sentence(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    """Missing, unknown or proposal receipts, and meeting-format sessions, are explained; an off-session
    micro-suggestion asks for the answer first; nothing changes."""
    room = make_room(factory, clock, wecom, members=2, representatives=1)
    early = suggest(wechat, "这条在会前发的")
    assert "没有正在进行或即将举行" in talk(wecom, CONVENOR, "现场")[0]
    schedule(wecom, STANDARD)  # a 会议-format session
    meeting = only_session(factory).id
    assert "只有「现场」「网络」形式" in talk(wecom, CONVENOR, f"现场 {meeting}")[0]
    assert "没有找到议题含" in talk(wecom, CONVENOR, "现场 不存在的议题")[0]
    assert "回应 编号" in talk(wecom, CONVENOR, "回应")[0]
    assert "回应 编号" in talk(wecom, CONVENOR, "回应 路灯修好了")[0]
    assert "没有找到您议事室编号为 WJ-2026-999999" in talk(wecom, CONVENOR, "回应 WJ-2026-999999 好")[0]
    assert "是提议的编号" in talk(wecom, CONVENOR, f"回应 {room.topics[0]} 好")[0]
    # A 微建言 sent outside any session is answered with a preview: nothing is sent before 确认.
    assert "请写下给居民的答复" in talk(wecom, CONVENOR, f"回应 {early} 好")[0]
    with factory() as session:
        assert session.scalars(select(Suggestion.status)).one() == "submitted"
    assert answers_queued(factory) == 0


def test_link_by_title_and_upcoming_session(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    """Before it starts, 现场 gives the next live session's link and says when; a title word finds it too."""
    make_room(factory, clock, wecom, members=2, representatives=1)
    schedule(wecom, ONLINE)
    consult = only_session(factory)
    reply = talk(wecom, CONVENOR, "现场")[0]
    assert f"/live/{consult.id}?key=" in reply and "未开始" in reply
    assert f"/live/{consult.id}?key=" in talk(wecom, CONVENOR, f"现场 {consult.title[:4]}")[0]
    assert f"/live/{consult.id}?key=" in talk(wecom, CONVENOR, f"现场 {consult.id}")[0]
