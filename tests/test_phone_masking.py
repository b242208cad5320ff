"""Phone numbers typed into free text are masked wherever someone other than their author (or the
room's convenor) reads the text: the similar proposals, the public receipt summary, the live page,
the Excel exports. Receipt numbers, dates and amounts stay as they are."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services.admin_users import create_admin
from bot.services.privacy import mask_phones
from bot.services.rooms import create_room
from scheduler.outbox import OutboxWorker
from storage.db import transaction
from storage.models import Role, Room, RoomLevel
from tests.fake_wechat import FakeWeChat
from tests.helpers import CONVENOR, DEC3_1500, STANDARD, admin_post, bind, make_room, schedule, talk
from tests.wxclient import WeChatCallbackClient, WeComCallbackClient

MOBILE, MASKED = "13566667777", "135****7777"
LAMP = f"幸福路北段路灯坏了，请打{MOBILE}联系我"
SHORT = f"路灯坏了，电话{MOBILE}"  # within the 20 characters a status letter quotes
GYM = f"健身器材损坏很久了，请打{MOBILE}联系我"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("电话13566667777", "电话135****7777"),
        ("电话 135 6666 7777 找我", "电话 135****7777 找我"),
        ("电话135-6666-7777", "电话135****7777"),
        ("+86 13566667777", "135****7777"),
        ("+86-135-6666-7777", "135****7777"),
        ("008613566667777。", "135****7777。"),
        ("座机0571-88886666或(0571)88886666", "座机057*****6666或057*****6666"),
        ("北京 010-12345678", "北京 010****5678"),
    ],
)
def test_numbers_are_masked(text: str, shown: str) -> None:
    assert mask_phones(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "编号 YS-2026-000123、WJ-2026-000012",
        "2026-12-03 15:00 开会，2026年12月3日",
        "维修费用 12000 元，预算 1350000 元，共 135666677 元",
        "身份证后四位 1234，门牌 13 栋 5 单元",
        "138****5678",
    ],
)
def test_what_is_not_a_phone_number_stays(text: str) -> None:
    assert mask_phones(text) == text


@pytest.fixture
def room(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        create_room(session, name="幸福社区议事室", level=RoomLevel.village)


def file_lamp(wechat: WeChatCallbackClient, text: str = LAMP) -> str:
    done = talk(wechat, "o-author", "提议题", "1", text, "跳过", "跳过", "跳过", "确认")[-1]
    return done.split("受理编号：")[1].split("\n")[0]


@pytest.mark.usefixtures("room")
def test_the_similar_list_masks_another_residents_number(wechat: WeChatCallbackClient) -> None:
    receipt = file_lamp(wechat)
    offer = talk(wechat, "o-neighbour", "提议题", "1", "幸福路的路灯不亮，晚上走路不安全")[-1]
    assert receipt in offer and MASKED in offer and MOBILE not in offer


@pytest.mark.usefixtures("room")
def test_a_receipt_shows_the_number_to_its_author_only(wechat: WeChatCallbackClient) -> None:
    receipt = file_lamp(wechat)
    assert MOBILE in wechat.send_text("o-author", receipt).content
    public = wechat.send_text("o-stranger", receipt).content
    assert "幸福路北段路灯坏了" in public and MASKED in public and MOBILE not in public
    supported = wechat.send_text("o-stranger", f"附议 {receipt}").content
    assert receipt in supported and MOBILE not in supported
    as_supporter = wechat.send_text("o-stranger", receipt).content  # now the full view, history and all
    assert "进展：" in as_supporter and MASKED in as_supporter and MOBILE not in as_supporter
    assert MOBILE not in wechat.send_text("o-stranger", "我的").content


def test_the_live_page_masks_numbers(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    client: TestClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    make_room(factory, clock, wecom, members=2, representatives=1)
    assert "已创建会议" in schedule(wecom, [*STANDARD[:5], "3", *STANDARD[6:]])[-1]  # 网络 (online)
    clock.set(DEC3_1500 + timedelta(minutes=10))
    talk(wechat, "o-online", "微建言", "1", f"建议多装路灯，有问题打 {MOBILE} 或 0571-88886666", "确认")
    link = re.search(r"http://127\.0\.0\.1:8000(/live/\d+\?key=[0-9a-f]+)", talk(wecom, CONVENOR, "现场")[0])
    assert link
    path, _, key = link.group(1).partition("?")
    feed = client.get(f"{path}/feed?{key}").json()
    (item,) = feed["items"]
    assert item["text"] == f"建议多装路灯，有问题打 {MASKED} 或 057*****6666"
    page = client.get(link.group(1)).text + repr(feed)
    assert MOBILE not in page and "88886666" not in page


def test_the_excel_export_masks_numbers_in_text(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    client: TestClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    make_room(factory, clock, wecom, members=2, representatives=1)
    file_lamp(wechat, GYM)
    answers = STANDARD.copy()
    answers[4] = f"社区二楼会议室（联系人 {MOBILE}）"
    assert "已创建会议" in schedule(wecom, answers)[-1]
    with transaction(factory) as session:
        create_admin(session, username="office", password="correct horse battery")
    login = admin_post(
        client, "/admin/login", {"username": "office", "password": "correct horse battery"}, follow_redirects=False
    )
    assert login.status_code == 302
    for name in ("proposals", "sessions", "lists"):
        content = client.get(f"/admin/export/{name}.xlsx").content
        workbook = load_workbook(io.BytesIO(content))
        cells = [str(c) for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for c in row]
        assert not any(MOBILE in c for c in cells), name
        if name == "proposals":
            assert any(c == GYM.replace(MOBILE, MASKED) for c in cells)
            assert any(c.startswith("YS-2026-") for c in cells)  # receipts as they are
        if name == "sessions":
            assert f"社区二楼会议室（联系人 {MASKED}）" in cells


@pytest.mark.usefixtures("room")
def test_a_supporter_is_told_of_progress_without_the_proposers_number(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    with factory() as session:
        room_id = session.scalars(select(Room.id)).one()
    bind(wechat, factory, clock, "o-conv", room_id=room_id, role=Role.convenor)
    receipt = file_lamp(wechat, SHORT)
    assert "已附议" in wechat.send_text("o-supporter", f"附议 {receipt}").content
    listing = talk(wechat, "o-conv", "待审", "1")[-1]
    assert MOBILE in listing  # the convenor sees the proposal as written
    assert f"{receipt} 已受理" in talk(wechat, "o-conv", "受理", "确认")[-1]
    outbox_worker.run_once()
    (own,) = [t for _, t in fake.sent_texts("o-author") if "受理" in t]
    (supported,) = [t for _, t in fake.sent_texts("o-supporter") if "受理" in t]
    assert MOBILE in own and MASKED in supported and MOBILE not in supported
