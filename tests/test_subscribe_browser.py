"""The subscribe page in headless Chromium at a phone's size, with WeChat's JS-SDK stood in for by a stub
served at its real address (the policy only lets scripts come from there and from us): wx.config gets a
signature for exactly the URL the browser shows, and an accepted popup shows as 已开启. Outside WeChat
(no SDK) the page says to open it in WeChat.

Set SAVE_SCREENSHOTS=1 to refresh docs/subscribe.png (the page at 390×844).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.clock import FakeClock
from bot.runtime import Runtime
from bot.settings import Settings
from tests.browser import browser_page, live_server  # noqa: F401
from tests.conftest import make_settings
from tests.fake_wechat import TICKET_PATH, FakeWeChat
from tests.wxclient import DEFAULT_WECHAT, WeChatCallbackClient

SUB_RESULT = "SubResult_0123456789abcdefghijklmnopqrstuvw"
SUB_REMINDER = "SubReminder_123456789abcdefghijklmnopqrstu"
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "subscribe.png"
# Records what the page hands wx.config; the open tag's events are dispatched by the test.
STUB = "window.__configs = []; window.wx = {config: function (c) { window.__configs.push(c); }, error: function () {}};"


@pytest.fixture
def settings(db_url: str, fake: FakeWeChat) -> Settings:
    return make_settings(
        db_url, fake.base_url, wechat_subscribe_templates=f"result:{SUB_RESULT},reminder:{SUB_REMINDER}"
    )


@pytest.fixture
def http(live_server: str, runtime: Runtime) -> Iterator[httpx.Client]:  # noqa: F811 (the imported fixture)
    # Links and signatures are for PUBLIC_BASE_URL: here, where the test server listens.
    runtime.settings.public_base_url = live_server
    with httpx.Client(base_url=live_server, timeout=10) as client:
        yield client


def test_the_page_signs_its_own_url_and_shows_what_was_turned_on(
    browser_page: Any,  # noqa: F811 (the imported fixture)
    http: httpx.Client,
    live_server: str,  # noqa: F811
    fake: FakeWeChat,
    clock: FakeClock,
) -> None:
    wechat = WeChatCallbackClient(http, clock=clock, **DEFAULT_WECHAT)
    found = re.search(r"http://127\.0\.0\.1:\d+/subscribe\?user=\S+", wechat.send_text("o-wang", "通知设置").content)
    assert found is not None
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.route("https://res.wx.qq.com/**", lambda route: route.fulfill(body=STUB, content_type="text/javascript"))
    page.goto(found.group(0) + "&from=singlemessage")  # WeChat adds its own parameters when a link is shared
    page.wait_for_function("window.__configs && window.__configs.length === 1")

    config = page.evaluate("window.__configs[0]")
    ticket = fake.calls(TICKET_PATH)[0].response["ticket"]  # type: ignore[index]
    signed = f"jsapi_ticket={ticket}&noncestr={config['nonceStr']}&timestamp={config['timestamp']}&url={page.url}"
    assert config["signature"] == hashlib.sha1(signed.encode()).hexdigest()
    assert config["openTagList"] == ["wx-open-subscribe"]
    assert page.locator(".kinds .name").all_inner_texts() == ["办理结果", "会议通知和提醒"]

    details = json.dumps({SUB_RESULT: json.dumps({"status": "accept"})})
    page.evaluate(
        "([id, details]) => document.querySelector(`wx-open-subscribe[template='${id}']`)"
        ".dispatchEvent(new CustomEvent('success', {detail: {subscribeDetails: details}}))",
        [SUB_RESULT, details],
    )
    row = page.locator(f"li[data-template='{SUB_RESULT}']")
    assert row.locator(".state").inner_text() == "已开启"
    assert page.locator("#status").inner_text() == "已开启，谢谢！"
    assert page.locator(f"li[data-template='{SUB_REMINDER}'] .state").inner_text() == "未开启"
    if os.environ.get("SAVE_SCREENSHOTS"):
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_outside_wechat_the_page_says_where_to_open_it(
    browser_page: Any,  # noqa: F811 (the imported fixture)
    http: httpx.Client,
    clock: FakeClock,
) -> None:
    wechat = WeChatCallbackClient(http, clock=clock, **DEFAULT_WECHAT)
    found = re.search(r"http://127\.0\.0\.1:\d+/subscribe\?user=\S+", wechat.send_text("o-li", "通知设置").content)
    assert found is not None
    page = browser_page
    page.route("https://res.wx.qq.com/**", lambda route: route.abort())  # no internet, or not WeChat
    page.goto(found.group(0))
    page.get_by_text("请在微信里打开本页面。").first.wait_for()
    assert page.locator("#status").inner_text() == "请在微信里打开本页面。"
