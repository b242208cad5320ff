"""The web chat simulator and the terminal chat: real pipeline, simulated people, inbox of pushes."""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import bot.chat
from bot.app import create_app
from bot.clock import FakeClock
from bot.demo import seed_demo
from bot.runtime import Runtime
from bot.services.admin_users import create_admin
from bot.services.invites import create_invite
from bot.services.outbox import enqueue_text
from bot.services.rooms import create_room
from bot.settings import Settings
from scheduler.outbox import OutboxWorker
from storage.db import transaction
from storage.models import Invite, OutboxMessage, Person, ProcessedMessage, Proposal, Role, RoomLevel, RoomRole
from tests.conftest import make_settings
from tests.fake_wechat import FakeWeChat
from tests.helpers import admin_post
from tests.wxclient import WeComCallbackClient

SEND = "/simulator/api/send"
DESCRIPTION = "幸福路北段的路灯坏了一个多月，晚上很黑"


@pytest.fixture
def room(factory: sessionmaker[Session]) -> str:
    with transaction(factory) as session:
        return create_room(session, name="幸福社区议事室", level=RoomLevel.village).name


def say(client: TestClient, text: str, *, user: str = "王阿姨", channel: str = "wechat") -> str:
    response = client.post(SEND, json={"user": user, "channel": channel, "kind": "text", "text": text})
    assert response.status_code == 200, response.text
    return "\n\n".join(response.json()["replies"])


def click(client: TestClient, key: str, *, user: str = "王阿姨") -> str:
    response = client.post(SEND, json={"user": user, "channel": "wechat", "kind": "click", "key": key})
    assert response.status_code == 200, response.text
    return "\n\n".join(response.json()["replies"])


def propose(client: TestClient) -> str:
    """Walk 提议题 from the menu to the end; returns the last reply."""
    assert "议事室" in click(client, "PROPOSE")
    assert "至少 5 个字" in say(client, "1")
    assert "照片" in say(client, DESCRIPTION)
    assert "位置" in say(client, "跳过")
    assert "电话" in say(client, "跳过")
    assert "请核对" in say(client, "跳过")
    return say(client, "确认")


def test_page_is_served_with_the_menu(client: TestClient) -> None:
    """The simulator page loads and offers the official account's three menu buttons."""
    response = client.get("/simulator")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for button in ('data-key="PROPOSE"', 'data-key="SUGGEST"', 'data-key="MINE"', "提议题", "微建言", "我的"):
        assert button in page
    assert "王阿姨" in page and "sim-convenor" in page
    assert "http://" not in page and "https://" not in page  # self-contained: nothing fetched from elsewhere


def test_resident_files_a_proposal_and_sees_it_under_mine(
    client: TestClient, room: str, factory: sessionmaker[Session]
) -> None:
    """A simulated resident completes 提议题, gets a receipt, and finds it again with the 我的 menu."""
    last = propose(client)
    assert "YS-2026-" in last

    with factory() as session:
        proposal = session.scalars(select(Proposal)).one()
        proposer = session.get(Person, proposal.proposer_id)
    assert proposal.description == DESCRIPTION
    assert proposal.receipt is not None and proposal.receipt in last
    assert proposer is not None
    assert (proposer.external_id, proposer.channel, proposer.simulated) == ("sim-王阿姨", "wechat", True)

    mine = click(client, "MINE")
    assert proposal.receipt in mine
    assert "路灯" in mine


def test_each_menu_click_is_a_new_event(client: TestClient, room: str) -> None:
    """Clicking the same menu twice gets two answers, not one deduplicated event."""
    first = click(client, "MINE")
    second = click(client, "MINE")
    assert "还没有提交过" in first and "还没有提交过" in second


def test_photo_and_location_buttons_fill_the_proposal(
    client: TestClient, room: str, factory: sessionmaker[Session]
) -> None:
    """The fake photo and fake location are accepted by 提议题 like real ones."""
    click(client, "PROPOSE")
    say(client, "1")
    say(client, DESCRIPTION)
    photo = client.post(SEND, json={"user": "王阿姨", "kind": "image"}).json()["replies"]
    assert "照片已收到" in photo[0]
    place = client.post(SEND, json={"user": "王阿姨", "kind": "location"}).json()["replies"]
    assert "电话" in place[0]
    say(client, "跳过")
    assert "YS-2026-" in say(client, "确认")
    with factory() as session:
        proposal = session.scalars(select(Proposal)).one()
    assert proposal.photo_url and proposal.location_label == "幸福路12号门口"
    assert proposal.latitude is not None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"user": "", "channel": "wechat", "kind": "text", "text": "你好"}, "用户名"),
        ({"user": "   ", "channel": "wechat", "kind": "text", "text": "你好"}, "用户名"),
        ({"user": "王阿姨", "channel": "wechat", "kind": "text", "text": "字" * 3000}, "2000"),
        ({"user": "王阿姨", "channel": "sms", "kind": "text", "text": "你好"}, "渠道"),
        ({"user": "王阿姨", "channel": "wechat", "kind": "click", "key": ""}, "菜单"),
        ({"user": "王阿姨", "channel": "wechat", "kind": "voice", "text": "你好"}, "消息类型"),
    ],
)
def test_invalid_input_is_refused_and_nothing_stored(
    client: TestClient, factory: sessionmaker[Session], body: dict[str, str], message: str
) -> None:
    """Bad input gets 422 with a Chinese explanation, and no person or message is recorded."""
    response = client.post(SEND, json=body)
    assert response.status_code == 422
    assert message in response.json()["detail"]
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0
        assert session.scalar(select(func.count()).select_from(ProcessedMessage)) == 0


def test_malformed_json_is_refused(client: TestClient) -> None:
    """A body that is not JSON gets 422 with a Chinese explanation."""
    response = client.post(SEND, content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert "JSON" in response.json()["detail"]


def test_inbox_shows_pushes_and_simulated_people_are_never_sent_to_wechat(
    client: TestClient, runtime: Runtime, fake: FakeWeChat, outbox_worker: OutboxWorker
) -> None:
    """A queued message shows in the inbox, and the worker marks it sent without calling WeChat."""
    say(client, "你好")
    with transaction(runtime.factory) as session:
        person = session.scalars(select(Person).where(Person.external_id == "sim-王阿姨")).one()
        row = enqueue_text(
            session, person_id=person.id, text="您的提议已受理。\n请留意后续通知。", key="t:1", now=runtime.clock.now()
        )
        assert row is not None
        session.flush()
        row_id = row.id

    inbox = client.get("/simulator/api/inbox", params={"user": "王阿姨", "channel": "wechat", "after": 0}).json()
    assert [(i["id"], i["text"], i["status"]) for i in inbox] == [
        (row_id, "您的提议已受理。\n请留意后续通知。", "pending")
    ]

    assert outbox_worker.run_once() == 1
    inbox = client.get("/simulator/api/inbox", params={"user": "王阿姨", "channel": "wechat"}).json()
    assert inbox[0]["status"] == "sent"
    assert fake.calls() == []

    later = client.get("/simulator/api/inbox", params={"user": "王阿姨", "channel": "wechat", "after": row_id})
    assert later.json() == []
    other = client.get("/simulator/api/inbox", params={"user": "王阿姨", "channel": "wecom"})
    assert other.json() == []
    bad = client.get("/simulator/api/inbox", params={"user": "", "channel": "wechat"})
    assert bad.status_code == 422


def test_users_lists_simulated_people_only(client: TestClient, runtime: Runtime) -> None:
    """The user list holds the people the simulator talked as, never real WeChat users."""
    with transaction(runtime.factory) as session:
        session.add(Person(channel="wechat", external_id="oRealOpenId123456", simulated=False))
    say(client, "你好", user="sim-convenor")
    say(client, "你好", user="李委员", channel="wecom")
    users = client.get("/simulator/api/users").json()
    assert [(u["external_id"], u["channel"]) for u in users] == [("sim-convenor", "wechat"), ("sim-李委员", "wecom")]


@pytest.fixture
def typed_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Lines the terminal chat will read from `input()`, then end of input."""
    lines: list[str] = []

    def fake_input(prompt: str = "") -> str:
        print(prompt, end="")
        if not lines:
            raise EOFError
        line = lines.pop(0)
        print(line)
        return line

    monkeypatch.setattr(builtins, "input", fake_input)
    yield lines


def test_terminal_chat_talks_through_the_pipeline(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    settings: Settings,
    room: str,
    typed_lines: list[str],
) -> None:
    """`shangliang chat` shows a banner, the bot's first question for 提议题, and the room chosen."""
    monkeypatch.setattr(bot.chat, "get_settings", lambda: settings)
    typed_lines.extend(["/menu 提议题", "1", "/quit", "never read"])
    bot.chat.run_chat(user="王阿姨", channel="wechat")
    out = capsys.readouterr().out
    assert "/menu 提议题" in out and "/photo" in out
    assert "商量：请问您要找哪个议事室？" in out
    assert "\n      1. 幸福社区议事室" in out  # later lines of a reply line up under its first
    assert "已选择：幸福社区议事室" in out
    assert typed_lines == ["never read"]


def test_terminal_chat_shows_new_pushes(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    settings: Settings,
    runtime: Runtime,
    typed_lines: list[str],
) -> None:
    """A message queued for the person while they chat is printed after the next exchange, marked 【推送】."""
    monkeypatch.setattr(bot.chat, "get_settings", lambda: settings)
    original = bot.chat._show

    def show_and_queue(reply: str) -> None:
        original(reply)
        with transaction(runtime.factory) as session:
            person = session.scalars(select(Person).where(Person.external_id == "sim-王阿姨")).one()
            enqueue_text(
                session, person_id=person.id, text="会议通知：周五下午议事", key="t:push", now=runtime.clock.now()
            )

    monkeypatch.setattr(bot.chat, "_show", show_and_queue)
    typed_lines.extend(["你好"])
    bot.chat.run_chat(user="王阿姨", channel="wechat")
    out = capsys.readouterr().out
    assert "商量：欢迎来到「有事好商量」" in out
    assert "【推送】会议通知：周五下午议事" in out
    with runtime.factory() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_the_demo_resident_has_a_result_to_rate(client: TestClient, runtime: Runtime) -> None:
    """After `shangliang demo`, 王阿姨 in the simulator has last month's result in her inbox and rates it."""
    with transaction(runtime.factory) as session:
        assert seed_demo(session, now=runtime.clock.now())
    inbox = client.get("/simulator/api/inbox", params={"user": "王阿姨", "channel": "wechat"}).json()
    assert any("已拆除松动单杠" in item["text"] and "满意" in item["text"] for item in inbox)
    assert "谢谢" in say(client, "满意 希望早点装好")
    mine = say(client, "我的")
    assert "健身器材" in mine and "已评价" in mine


# --- production safety ------------------------------------------------------------------------


@pytest.fixture
def production_client(db_url: str, fake: FakeWeChat, clock: FakeClock) -> Iterator[TestClient]:
    """The app as `ENV=production` starts it with SIMULATOR_ENABLED unset."""
    settings = make_settings(db_url, fake.base_url, env="production")
    application = create_app(settings, clock)
    with TestClient(application) as test_client:
        yield test_client
    application.state.runtime.close()


def test_production_serves_no_simulator_unless_asked(
    production_client: TestClient, db_url: str, fake: FakeWeChat, factory: sessionmaker[Session]
) -> None:
    """In production the page and every API answer 404 and nothing reaches the database; turning it on
    takes SIMULATOR_ENABLED=true written out."""
    assert production_client.get("/simulator").status_code == 404
    assert production_client.get("/simulator/api/users").status_code == 404
    assert production_client.get("/simulator/api/inbox", params={"user": "王阿姨"}).status_code == 404
    sent = production_client.post(SEND, json={"user": "王阿姨", "channel": "wechat", "kind": "text", "text": "待审"})
    assert sent.status_code == 404
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0
    assert make_settings(db_url, fake.base_url, env="production").simulator_enabled is False
    assert make_settings(db_url, fake.base_url, env="production", simulator_enabled=True).simulator_enabled is True
    assert make_settings(db_url, fake.base_url, env="development").simulator_enabled is True


def test_simulator_never_acts_as_a_real_person_named_sim(
    client: TestClient, wecom: WeComCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """A real WeCom convenor whose UserID is `sim-zhang` cannot be driven from the simulator: the simulator
    talks as a simulated person of its own, who has no role, and sees none of the real one's messages."""
    with transaction(factory) as session:
        room = create_room(session, name="幸福社区议事室", level=RoomLevel.village)
        code = create_invite(session, room_id=room.id, role=Role.convenor, now=clock.now()).code
    assert "绑定成功" in wecom.send_text("sim-zhang", f"绑定 {code}").content

    for user in ("zhang", "sim-zhang"):
        reply = say(client, "邀请 召集人", user=user, channel="wecom")
        assert "邀请码：" not in reply and "没有这个身份" in reply
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Invite)) == 1  # only the one bound above
        real = session.scalars(select(Person).where(Person.simulated.is_(False))).one()
        simulated = session.scalars(select(Person).where(Person.simulated.is_(True))).one()
    assert (real.channel, real.external_id) == (simulated.channel, simulated.external_id) == ("wecom", "sim-zhang")
    assert client.get("/simulator/api/inbox", params={"user": "zhang", "channel": "wecom"}).json() == []
    users = client.get("/simulator/api/users").json()
    assert [(u["external_id"], u["channel"]) for u in users] == [("sim-zhang", "wecom")]

    # The real convenor is still themselves, on their own row.
    assert "召集人邀请码" in wecom.send_text("sim-zhang", "邀请 召集人").content
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Invite)) == 2
        roles = session.scalars(select(RoomRole)).all()
    assert [(r.person_id, r.role) for r in roles] == [(real.id, "convenor")]


def test_a_real_person_is_never_taken_for_a_simulated_one(
    client: TestClient, wecom: WeComCallbackClient, factory: sessionmaker[Session]
) -> None:
    """The simulator spoke as `zhang` first; the real `sim-zhang` writing later is a new, real person."""
    say(client, "你好", user="zhang", channel="wecom")
    wecom.send_text("sim-zhang", "你好")
    with factory() as session:
        rows = session.execute(select(Person.external_id, Person.simulated).order_by(Person.id)).all()
    assert [tuple(r) for r in rows] == [("sim-zhang", True), ("sim-zhang", False)]


def test_the_admin_tells_simulated_people_apart(
    client: TestClient, wecom: WeComCallbackClient, factory: sessionmaker[Session]
) -> None:
    """Both `sim-zhang`s are in the people table; the admin's list says which one is simulated."""
    say(client, "你好", user="zhang", channel="wecom")
    wecom.send_text("sim-zhang", "你好")
    with transaction(factory) as session:
        create_admin(session, username="office", password="correct horse battery")
    login = {"username": "office", "password": "correct horse battery"}
    assert admin_post(client, "/admin/login", login, follow_redirects=False).status_code == 302
    page = client.get("/admin/person/list").text
    assert "模拟用户" in page
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
    marks = sorted(("sim-…hang" in row, ">是<" in row) for row in rows if "sim-…hang" in row)
    assert marks == [(True, False), (True, True)]
