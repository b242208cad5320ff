"""The page where a person turns on subscription notifications (订阅通知, issue 11 item 10): the bot links to
it (通知设置) with a signed token; it is signed for WeChat's JS-SDK with the account's jsapi ticket (fetched
through the API base URL and cached like the access token) and offers `wx-open-subscribe` per kind."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.outbound import jssdk
from bot.runtime import Runtime
from bot.services import subscriptions
from bot.settings import Settings
from storage.db import transaction
from storage.models import AccessToken, Person
from tests.conftest import make_settings
from tests.fake_wechat import TICKET_PATH, TOKEN_PATH, FakeWeChat
from tests.wxclient import DEFAULT_WECHAT, Bare, WeChatCallbackClient, WeComCallbackClient

SUB_RESULT = "SubResult_0123456789abcdefghijklmnopqrstuvw"
SUB_REMINDER = "SubReminder_123456789abcdefghijklmnopqrstu"
USER = "o-resident"
CONFIG = re.compile(r'<script type="application/json" id="wx-config">(.*?)</script>', re.S)
BUTTON = re.compile(r'<wx-open-subscribe template="([^"]+)"')


@pytest.fixture
def settings(request: pytest.FixtureRequest, db_url: str, fake: FakeWeChat) -> Settings:
    values = {
        "wechat_subscribe_templates": f"result:{SUB_RESULT},reminder:{SUB_REMINDER}",
        "public_base_url": "https://shangliang.example.org",
    }
    return make_settings(db_url, fake.base_url, **{**values, **getattr(request, "param", {})})


def test_the_signature_matches_the_documented_vector() -> None:
    """JS-SDK 附录1: sha1 of jsapi_ticket, noncestr, timestamp and url (without its #fragment), in that order."""
    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    expected = "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    signed = jssdk.signature(
        ticket=ticket, noncestr="Wm3WZYTPz0wzccnW", timestamp=1414587457, url="http://mp.weixin.qq.com?params=value"
    )
    assert signed == expected
    again = jssdk.signature(
        ticket=ticket, noncestr="Wm3WZYTPz0wzccnW", timestamp=1414587457, url="http://mp.weixin.qq.com?params=value#top"
    )
    assert again == expected


def page_link(wechat: WeChatCallbackClient, user: str = USER) -> str:
    reply = wechat.send_text(user, "通知设置").content
    found = re.search(r"https://shangliang\.example\.org/subscribe\?user=\S+", reply)
    assert found, reply
    return found.group(0)


def open_page(client: TestClient, link: str) -> tuple[int, str]:
    parts = urlsplit(link)
    response = client.get(f"{parts.path}?{parts.query}")
    return response.status_code, response.text


def test_the_bot_links_to_a_page_signed_with_the_cached_ticket(
    wechat: WeChatCallbackClient, client: TestClient, fake: FakeWeChat, clock: FakeClock
) -> None:
    """通知设置 gives the person's own link; the page carries wx.config signed for exactly that URL with the
    ticket `getticket` gave, one subscribe button per kind, and what the person chose so far. A second visit
    uses the cached ticket."""
    reply = wechat.send_text(USER, "通知设置").content
    assert "办理结果：未开启" in reply and "会议通知和提醒：未开启" in reply
    link = page_link(wechat)
    status, page = open_page(client, link)
    assert status == 200, page
    (ticket_call,) = fake.calls(TICKET_PATH)
    assert ticket_call.query["type"] == "jsapi" and ticket_call.query["access_token"].startswith("oa-token-")
    ticket = ticket_call.response["ticket"]  # type: ignore[index]
    config = json.loads(CONFIG.search(page).group(1))  # type: ignore[union-attr]
    assert config["appId"] == DEFAULT_WECHAT["app_id"] and config["openTagList"] == ["wx-open-subscribe"]
    signed = f"jsapi_ticket={ticket}&noncestr={config['nonceStr']}&timestamp={config['timestamp']}&url={link}"
    assert config["signature"] == hashlib.sha1(signed.encode()).hexdigest()
    assert config["timestamp"] == int(clock.now().timestamp())
    assert BUTTON.findall(page) == [SUB_RESULT, SUB_REMINDER]
    assert "办理结果" in page and "未开启" in page and "jweixin-1.6.0.js" in page

    wechat.subscribe_msg_event(
        USER,
        "subscribe_msg_popup_event",
        [{"TemplateId": SUB_RESULT, "SubscribeStatusString": "accept", "PopupScene": Bare("1")}],
    )
    clock.advance(timedelta(minutes=30))
    status, page = open_page(client, link)
    assert status == 200 and len(fake.calls(TICKET_PATH)) == 1  # cached
    assert re.search(r"办理结果</span>\s*<span class=\"state on\">已开启", page), page
    assert "办理结果：已开启" in wechat.send_text(USER, "通知设置").content


def test_the_page_opens_only_from_a_link_the_bot_signed(
    wechat: WeChatCallbackClient, client: TestClient, factory: sessionmaker[Session], fake: FakeWeChat
) -> None:
    """No token, a made-up one, or one person's signature on another's id: 403 and no ticket fetched."""
    link = page_link(wechat)
    other = page_link(wechat, "o-neighbour")
    head, key = urlsplit(link).query.removeprefix("user=").split(".")
    other_head = urlsplit(other).query.removeprefix("user=").split(".")[0]
    for query in ("", "?user=", f"?user={head}.{'0' * 32}", f"?user={other_head}.{key}", "?user=abc"):
        response = client.get(f"/subscribe{query}")
        assert response.status_code == 403 and "通知设置" in response.text
    assert fake.calls(TICKET_PATH) == []
    status, _ = open_page(client, link)
    assert status == 200
    with factory() as session:
        assert session.scalars(select(Person.id).where(Person.external_id == USER)).one() == int(head)


@pytest.mark.parametrize("settings", [{"wechat_subscribe_templates": ""}], indirect=True)
def test_without_subscription_templates_the_bot_says_so(wechat: WeChatCallbackClient, fake: FakeWeChat) -> None:
    reply = wechat.send_text(USER, "通知设置").content
    assert "暂未开通服务通知" in reply and "/subscribe" not in reply
    assert fake.calls(TICKET_PATH) == []


def test_wecom_members_need_no_subscription(wecom: WeComCallbackClient, client: TestClient, runtime: Runtime) -> None:
    """WeCom app messages have no 48-hour window: the command says so; a page link for them explains the same."""
    assert "不需要开启" in wecom.send_text("member-1", "通知设置").content
    with runtime.factory() as session:
        person_id = session.scalars(select(Person.id).where(Person.external_id == "member-1")).one()
    secret = runtime.settings.secret_key.get_secret_value()
    status, page = open_page(client, subscriptions.link("https://x", person_id, secret=secret))
    assert status == 200 and "不需要开启" in page and "wx-open-subscribe" not in page


def test_a_refused_token_is_refreshed_once_for_the_ticket(
    runtime: Runtime, factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat
) -> None:
    """The cached access token is refused when fetching the ticket (40001): a new token, then the ticket."""
    with transaction(factory) as session:
        session.add(
            AccessToken(
                app=f"wechat:{DEFAULT_WECHAT['app_id']}", token="revoked", expires_at=clock.now() + timedelta(hours=1)
            )
        )
    ticket = runtime.wechat_api.jsapi_ticket()
    assert ticket.startswith("fake-jsapi-ticket-")
    assert [c.query.get("access_token") for c in fake.calls(TICKET_PATH)][:1] == ["revoked"]
    assert len(fake.calls(TOKEN_PATH)) == 1 and len(fake.calls(TICKET_PATH)) == 2
    assert runtime.wechat_api.jsapi_ticket() == ticket  # cached from now on
    assert len(fake.calls(TICKET_PATH)) == 2
