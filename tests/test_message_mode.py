"""WECHAT_MESSAGE_MODE: with an EncodingAESKey (安全模式) a plaintext message is refused, because the
plain signature covers only timestamp and nonce; 兼容模式 accepts both; 明文模式 only plaintext."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.clock import FakeClock
from storage.models import Person, ProcessedMessage
from tests.conftest import make_settings
from tests.fake_wechat import FakeWeChat
from tests.helpers import count_rows
from tests.wxclient import DEFAULT_WECHAT, WeChatCallbackClient, build_text


@pytest.fixture
def clients(
    request: pytest.FixtureRequest, db_url: str, fake: FakeWeChat, clock: FakeClock
) -> Iterator[tuple[WeChatCallbackClient, WeChatCallbackClient]]:
    """(plaintext client, encrypted client) against an app in the mode given as the test's parameter."""
    mode, key = request.param
    settings = make_settings(db_url, fake.base_url, wechat_message_mode=mode, wechat_encoding_aes_key=key)
    app = create_app(settings, clock)
    with TestClient(app) as http:
        plain = WeChatCallbackClient(
            http, token=DEFAULT_WECHAT["token"], encoding_aes_key=None, app_id=DEFAULT_WECHAT["app_id"], clock=clock
        )
        yield plain, WeChatCallbackClient(http, clock=clock, **DEFAULT_WECHAT)
    app.state.runtime.close()


AES = DEFAULT_WECHAT["encoding_aes_key"]


@pytest.mark.parametrize("clients", [("auto", AES), ("safe", AES)], indirect=True)
def test_safe_mode_refuses_plaintext_and_stores_nothing(
    clients: tuple[WeChatCallbackClient, WeChatCallbackClient], factory: sessionmaker[Session]
) -> None:
    plain, encrypted = clients
    refused = plain.post_xml(build_text("o-forged", "gh", "提议题"))
    assert refused.status_code == 403
    assert count_rows(factory, Person) == 0 and count_rows(factory, ProcessedMessage) == 0
    assert encrypted.send_text("o-real", "你好").status_code == 200
    assert plain.verify_url("echo-1").text == "echo-1"  # the URL check is plain in every mode


@pytest.mark.parametrize("clients", [("compat", AES)], indirect=True)
def test_compat_mode_accepts_both(clients: tuple[WeChatCallbackClient, WeChatCallbackClient]) -> None:
    plain, encrypted = clients
    assert "提议题" in plain.send_text("o-a", "你好").content
    assert "提议题" in encrypted.send_text("o-b", "你好").content


@pytest.mark.parametrize("clients", [("auto", ""), ("plain", AES)], indirect=True)
def test_plain_mode_accepts_plaintext(clients: tuple[WeChatCallbackClient, WeChatCallbackClient]) -> None:
    plain, _encrypted = clients
    assert "提议题" in plain.send_text("o-a", "你好").content
