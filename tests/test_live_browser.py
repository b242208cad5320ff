"""The live page in headless Chromium: a micro-suggestion sent through WeChat appears without a reload,
hostile text is shown literally, and the 回应 button tells the sender.

Set SAVE_SCREENSHOTS=1 to refresh docs/live.png (the page at 1920×1080 with a few comments).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from scheduler.outbox import OutboxWorker
from storage.db import transaction
from storage.models import Person
from tests.browser import browser_page, live_server  # noqa: F401
from tests.fake_wechat import FakeWeChat
from tests.helpers import CONVENOR, DEC3_1500, STANDARD, make_room, schedule, talk, texts_to
from tests.wxclient import DEFAULT_WECHAT, DEFAULT_WECOM, WeChatCallbackClient, WeComCallbackClient

ONLINE = [*STANDARD[:5], "3", *STANDARD[6:]]
LINK = re.compile(r"http://127\.0\.0\.1:8000(/live/\d+\?key=[0-9a-f]+)")
HOSTILE = "<script>alert(1)</script>"
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "live.png"


@pytest.fixture
def http(live_server: str) -> Iterator[httpx.Client]:  # noqa: F811 (the imported fixture)
    with httpx.Client(base_url=live_server, timeout=10) as client:
        yield client


def suggest(wechat: WeChatCallbackClient, user: str, text: str) -> str:
    reply = talk(wechat, user, "微建言", "1", text, "确认")[-1]
    assert "编号：WJ-" in reply, reply
    return reply


def test_suggestion_appears_live_and_the_button_answers_it(
    browser_page: Any,  # noqa: F811 (the imported fixture)
    live_server: str,  # noqa: F811
    http: httpx.Client,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """Open the page, send 微建言 through the signed callback, see it arrive; 回应 marks it and tells the sender."""
    wechat = WeChatCallbackClient(http, clock=clock, **DEFAULT_WECHAT)
    wecom = WeComCallbackClient(http, clock=clock, **DEFAULT_WECOM)
    make_room(factory, clock, wecom, members=2, representatives=1)
    assert "已创建会议" in schedule(wecom, ONLINE)[-1]
    clock.set(DEC3_1500 + timedelta(minutes=5))
    link = LINK.search(talk(wecom, CONVENOR, "现场")[0])
    assert link is not None

    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(live_server + link.group(1))
    page.get_by_text("还没有收到微建言").wait_for()
    page.evaluate("window.__sameLoad = true")

    suggest(wechat, "o-wang", "希望社区食堂周末也开放，方便上班的年轻人")
    card = page.locator(".card", has_text="社区食堂周末")
    card.wait_for()
    clock.advance(timedelta(minutes=2))
    suggest(wechat, "o-li", HOSTILE)
    page.locator(".card .text", has_text=HOSTILE).wait_for()
    assert page.evaluate("window.__sameLoad") is True  # no reload happened
    assert page.locator(".card .text").all_inner_texts() == [HOSTILE, "希望社区食堂周末也开放，方便上班的年轻人"]
    assert dialogs == []  # the script tag was shown, not run
    assert "o-wang" not in page.content()

    card.get_by_role("button", name="回应").click()
    card.get_by_placeholder("回应内容（可不填）").fill("周末试开放，下周一起执行")
    card.get_by_role("button", name="确认回应").click()
    card.get_by_text("回应：周末试开放，下周一起执行").wait_for()
    assert page.locator("#answered").inner_text() == "1"
    while outbox_worker.run_once():
        pass
    told = [t for t in texts_to(fake, "o-wang") if "现场回应" in t]
    assert len(told) == 1 and "周末试开放，下周一起执行" in told[0]
    assert not [t for t in texts_to(fake, "o-li") if "现场回应" in t]

    if os.environ.get("SAVE_SCREENSHOTS"):
        _fill_for_screenshot(wechat, factory, clock, page)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))


def _fill_for_screenshot(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock, page: Any
) -> None:
    """A few more comments, some residents with names (shown masked), on a 1080p screen."""
    more = [
        ("o-zhao", "小区东门晚上路灯太暗，老人出门不方便，建议加装两盏"),
        ("o-sun", "电动车充电桩能不能装在车棚里？现在很多人从楼道拉线充电，很危险"),
        ("o-zhou", "垃圾分类站早上七点前就满了，希望清运时间提前"),
        ("o-wu", "建议在议事室门口放一个意见箱，不会用手机的老人也能提建议"),
    ]
    for user, text in more:
        clock.advance(timedelta(minutes=3))
        suggest(wechat, user, text)
    with transaction(factory) as session:
        names = {"o-wang": "王建国", "o-zhao": "赵秀英", "o-sun": "孙磊"}
        for person in session.scalars(select(Person).where(Person.external_id.in_(names))):
            person.display_name = names[person.external_id]
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.locator(".card .text", has_text="意见箱").wait_for()
    page.get_by_text("赵*").wait_for()
    page.evaluate("document.querySelectorAll('.fresh').forEach(c => c.classList.remove('fresh'))")


OPINION_SHOT = Path(__file__).resolve().parent.parent / "docs" / "live_opinions.png"


def test_opinion_results_on_the_live_page(
    browser_page: Any,  # noqa: F811 (the imported fixture)
    live_server: str,  # noqa: F811
    http: httpx.Client,
    factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    """征求意见 sent before an online session: the session's live page shows the statement everyone agreed
    on and the one they split on, with counts, rendered as text."""
    wecom = WeComCallbackClient(http, clock=clock, **DEFAULT_WECOM)
    room = make_room(factory, clock, wecom, members=4, representatives=2)
    assert "已创建会议" in schedule(wecom, ONLINE)[-1]
    asked = talk(wecom, CONVENOR, "征求意见\n小区应该增设电动车充电桩\n充电桩应该建在小区北门空地\n" + HOSTILE, "确认")
    assert "已向 6 人发出 3 句" in asked[-1]
    for n, user in enumerate([*room.members, *room.representatives]):
        talk(wecom, user, "同意", "1" if n % 2 else "2", "跳过")
    clock.set(DEC3_1500 + timedelta(minutes=5))
    link = LINK.search(talk(wecom, CONVENOR, "现场")[0])
    assert link is not None

    page = browser_page
    page.goto(live_server + link.group(1))
    page.get_by_text("问了 6 人，6 人表态").wait_for()
    common = page.locator("#consensus li").all_inner_texts()
    divided = page.locator("#divisive li").all_inner_texts()
    assert len(common) == 1 and "小区应该增设电动车充电桩" in common[0] and "同意 6 · 不同意 0 · 跳过 0" in common[0]
    assert len(divided) == 1 and "充电桩应该建在小区北门空地" in divided[0] and "同意 3 · 不同意 3" in divided[0]
    if os.environ.get("SAVE_SCREENSHOTS"):
        page.set_viewport_size({"width": 1280, "height": 800})
        OPINION_SHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(OPINION_SHOT))
