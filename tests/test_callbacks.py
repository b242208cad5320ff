"""The callback endpoints: signatures, crypto, the official samples, and the reply formats."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.clock import FakeClock
from storage.models import Person, ProcessedMessage
from tests.conftest import make_settings
from tests.fake_wechat import FakeWeChat
from tests.helpers import count_rows
from tests.wxclient import (
    CallbackCrypto,
    WeChatCallbackClient,
    WeComCallbackClient,
    build_text,
)

SAMPLES = json.loads((Path(__file__).parent / "data" / "wechat_crypto.json").read_text(encoding="utf-8"))


def _sample_sets(platform: str) -> list[dict[str, Any]]:
    return [s for s in SAMPLES["sets"] if s["platform"] == platform and s.get("encoding_aes_key")]


def _sample_app(db_url: str, fake: FakeWeChat, **keys: Any) -> FastAPI:
    """The app set up with a published sample's token and key, accepting the sample's old timestamps."""
    return create_app(make_settings(db_url, fake.base_url, signature_max_age=0, **keys), FakeClock())


def _inner(crypto: CallbackCrypto, reply: str) -> str:
    """The decrypted XML inside an encrypted passive reply."""
    return crypto.decrypt(reply.split("<Encrypt><![CDATA[")[1].split("]]>")[0])


def test_url_check_answers_echostr(wechat: WeChatCallbackClient) -> None:
    """The official account's GET check answers the echostr when the signature holds."""
    response = wechat.verify_url("echo+with/plus=")
    assert response.status_code == 200
    assert response.text == "echo+with/plus="


def test_wecom_url_check_answers_decrypted_echostr(wecom: WeComCallbackClient) -> None:
    """WeCom's GET check is answered with the decrypted echostr, nothing else."""
    response = wecom.verify_url("1616140317555161061")
    assert response.status_code == 200
    assert response.text == "1616140317555161061"


def test_plain_mode_reply(wechat_plain: WeChatCallbackClient) -> None:
    """In plaintext mode a greeting gets the welcome as a passive XML reply."""
    reply = wechat_plain.send_text("o-plain-1", "你好")
    assert reply.status_code == 200
    assert reply.msg_type == "text"
    assert reply.to_user == "o-plain-1"
    assert "提议题" in reply.content


def test_safe_mode_reply_is_encrypted(wechat: WeChatCallbackClient) -> None:
    """In safe mode the reply comes back encrypted and signed, and decrypts to the answer."""
    reply = wechat.send_text("o-safe-1", "帮助")
    assert reply.status_code == 200
    assert "<Encrypt>" in reply.raw
    assert "微建言" in reply.content


def test_reply_prefix_is_unpredictable(wechat: WeChatCallbackClient) -> None:
    """The 16 random bytes before each encrypted reply come from a cryptographic source: knowing the
    `random` module's state (wechatpy draws them from it) does not make two equal replies encrypt alike."""
    ciphertexts = []
    for n in range(2):
        random.seed(7)
        reply = wechat.send_text("o-safe-prefix", "帮助", msg_id=9100 + n)
        assert "微建言" in reply.content
        ciphertexts.append(reply.raw.split("<Encrypt><![CDATA[")[1].split("]]>")[0])
    assert ciphertexts[0] != ciphertexts[1]


def test_wecom_reply_is_encrypted(wecom: WeComCallbackClient) -> None:
    """A WeCom message gets an encrypted passive reply."""
    reply = wecom.send_text("zhangsan", "帮助")
    assert reply.status_code == 200
    assert "<Encrypt>" in reply.raw
    assert "我的" in reply.content


def test_reply_text_with_cdata_terminator_stays_well_formed(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session]
) -> None:
    """Text containing `]]>` is echoed in a reply without breaking the XML (a wechatpy defect)."""
    from bot.services.rooms import create_room
    from storage.db import transaction
    from storage.models import RoomLevel

    with transaction(factory) as session:
        create_room(session, name="幸福社区议事室", level=RoomLevel.village)
    tricky = "路灯]]>坏了<b>很久</b>&amp;"
    reply = wechat.send_text("o-cdata", tricky)
    assert reply.status_code == 200
    assert tricky in reply.content


def test_unknown_message_type_gets_a_polite_answer(wechat: WeChatCallbackClient) -> None:
    """A message type the bot does not know is answered politely, not with an error."""
    reply = wechat.send_raw(
        {
            "ToUserName": "gh_test",
            "FromUserName": "o-odd",
            "CreateTime": 1,
            "MsgType": "hologram",
            "MsgId": 99,
        }
    )
    assert reply.status_code == 200
    assert "看不懂" in reply.content


def test_voice_with_recognition_is_read_as_text(wechat: WeChatCallbackClient) -> None:
    """A voice message with WeChat's speech recognition is understood like typed text."""
    reply = wechat.send_voice("o-voice", media_id="m1", recognition="帮助")
    assert "提议题" in reply.content


def test_menu_click_starts_the_flow(wechat: WeChatCallbackClient, factory: sessionmaker[Session]) -> None:
    """The custom menu's 提议题 click starts the proposal dialog like the typed command."""
    from bot.services.rooms import create_room
    from storage.db import transaction
    from storage.models import RoomLevel

    with transaction(factory) as session:
        create_room(session, name="幸福社区议事室", level=RoomLevel.village)
    reply = wechat.click("o-menu", "PROPOSE")
    assert "哪个议事室" in reply.content
    assert "1. 幸福社区议事室" in reply.content


def test_subscribe_event_welcomes(wechat: WeChatCallbackClient) -> None:
    """Following the account gets the welcome."""
    reply = wechat.send_event("o-new", "subscribe")
    assert "欢迎" in reply.content


def test_unsubscribe_gets_empty_success(wechat: WeChatCallbackClient) -> None:
    """Events that need no answer get the plain `success`, even in safe mode."""
    reply = wechat.send_event("o-gone", "unsubscribe")
    assert reply.status_code == 200
    assert reply.raw == "success"


def test_what_a_person_sends_opens_the_window_and_reports_do_not(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """`last_inbound_at` (the 48-hour customer-service window) moves with each text, click and follow,
    also the first message that creates the person, and never with an unfollow or a delivery report."""

    def stamp() -> datetime | None:
        with factory() as session:
            return session.scalar(select(Person.last_inbound_at).where(Person.external_id == "o-window"))

    first = clock.now()
    wechat.send_text("o-window", "你好")
    assert stamp() == first
    clock.advance(timedelta(minutes=5))
    wechat.send_event("o-window", "CLICK", "PROPOSE")
    assert stamp() == clock.now()
    clicked = clock.now()
    clock.advance(timedelta(minutes=5))
    wechat.send_event("o-window", "unsubscribe")
    wechat.send_event("o-window", "TEMPLATESENDJOBFINISH")
    assert stamp() == clicked
    clock.advance(timedelta(minutes=5))
    wechat.send_event("o-window", "subscribe")
    assert stamp() == clock.now()


# --- the official samples, through the HTTP endpoints ------------------------------------------


@pytest.mark.parametrize("sample", _sample_sets("official_account"), ids=lambda s: s["id"])
def test_official_account_samples_decrypt_through_endpoint(
    sample: dict[str, Any], db_url: str, fake: FakeWeChat
) -> None:
    """Each published official-account sample is verified and decrypted by POST /wechat."""
    app = _sample_app(
        db_url,
        fake,
        wechat_token=sample["token"],
        wechat_encoding_aes_key=sample["encoding_aes_key"],
        wechat_app_id=sample["app_id"],
    )
    crypto = CallbackCrypto(sample["token"], sample["encoding_aes_key"], sample["app_id"])
    with TestClient(app) as http:
        for case in sample["cases"]:
            if case["kind"] == "url_verify_plain":
                query = {
                    "signature": case["signature"],
                    "timestamp": case["timestamp"],
                    "nonce": case["nonce"],
                    "echostr": case["echostr"],
                }
                response = http.get("/wechat", params=query)
                assert response.status_code == 200 and response.text == case["echostr"]
            if case["kind"] != "decrypt":
                continue
            body = (
                case.get("post_body")
                or f"<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[{case['encrypt']}]]></Encrypt></xml>"
            )
            query = {
                "signature": case["signature"],
                "timestamp": case["timestamp"],
                "nonce": case["nonce"],
                "encrypt_type": "aes",
                "msg_signature": case["msg_signature"],
            }
            response = http.post("/wechat", params=query, content=body.encode())
            assert response.status_code == 200
            plaintext = case["expected_plaintext"]
            sender = (
                json.loads(plaintext)["FromUserName"]
                if plaintext.startswith("{")
                else plaintext.split("<FromUserName><![CDATA[")[1].split("]]>")[0]
            )
            with app.state.runtime.factory() as session:
                assert session.scalars(select(Person).where(Person.external_id == sender)).one()
            if response.text != "success":
                inner = _inner(crypto, response.text)
                assert f"<ToUserName><![CDATA[{sender}]]></ToUserName>" in inner


@pytest.mark.parametrize("sample", _sample_sets("wecom"), ids=lambda s: s["id"])
def test_wecom_samples_decrypt_through_endpoint(sample: dict[str, Any], db_url: str, fake: FakeWeChat) -> None:
    """Each published WeCom sample passes GET /wecom (echostr) and POST /wecom (decrypt, reply)."""
    app = _sample_app(
        db_url,
        fake,
        wecom_token=sample["token"],
        wecom_encoding_aes_key=sample["encoding_aes_key"],
        wecom_corp_id=sample["corp_id"],
    )
    crypto = CallbackCrypto(sample["token"], sample["encoding_aes_key"], sample["corp_id"])
    with TestClient(app) as http:
        for case in sample["cases"]:
            if case["kind"] == "url_verify_encrypted":
                response = http.get(
                    "/wecom",
                    params={
                        "msg_signature": case["msg_signature"],
                        "timestamp": case["timestamp"],
                        "nonce": case["nonce"],
                        "echostr": case["echostr"],
                    },
                )
                assert response.status_code == 200
                assert response.text == case["expected_echostr"]
            elif case["kind"] == "decrypt":
                response = http.post(
                    "/wecom",
                    params={
                        "msg_signature": case["msg_signature"],
                        "timestamp": case["timestamp"],
                        "nonce": case["nonce"],
                    },
                    content=case["post_body"].encode(),
                )
                assert response.status_code == 200
                inner = _inner(crypto, response.text)
                sender = case["expected_plaintext"].split("<FromUserName>")[1].split("</FromUserName>")[0]
                sender = sender.removeprefix("<![CDATA[").removesuffix("]]>")
                assert f"<ToUserName><![CDATA[{sender}]]></ToUserName>" in inner


# --- freshness ---------------------------------------------------------------------------------


def test_signature_window_is_configurable(db_url: str, fake: FakeWeChat, factory: sessionmaker[Session]) -> None:
    """With SIGNATURE_MAX_AGE=0 an old but correctly signed callback is accepted; with 300 it is not."""
    old = FakeClock(datetime(2020, 1, 1, tzinfo=UTC))
    xml = build_text("o-old", "gh_test", "你好")
    for max_age, expected in ((0, 200), (300, 403)):
        app = create_app(make_settings(db_url, fake.base_url, signature_max_age=max_age), FakeClock())
        with TestClient(app) as http:
            from tests.wxclient import DEFAULT_WECHAT

            client = WeChatCallbackClient(http, clock=old, **DEFAULT_WECHAT)
            assert client.post_xml(xml).status_code == expected
    assert count_rows(factory, ProcessedMessage) == 1


def test_raw_plus_in_query_is_kept(client: TestClient, wecom: WeComCallbackClient) -> None:
    """A base64 echostr sent with a raw `+` (not %2B) still verifies: `+` is not read as a space."""
    crypto = wecom.crypto
    for attempt in range(50):
        echostr = crypto.encrypt(f"plus-{attempt}")
        if "+" in echostr:
            break
    assert "+" in echostr
    timestamp, nonce = wecom.timestamp(), "nonce1"
    signature = crypto.msg_signature(timestamp, nonce, echostr)
    url = f"/wecom?msg_signature={signature}&timestamp={timestamp}&nonce={nonce}&echostr={echostr}"
    response = client.get(url)
    assert response.status_code == 200
    assert response.text == f"plus-{attempt}"


def test_a_failing_handler_answers_politely_and_stores_nothing(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in a handler gives the person a plain apology, rolls everything back, and a retry works."""

    def broken(_ctx: object) -> list[str]:
        raise ZeroDivisionError("bug")

    monkeypatch.setattr("bot.pipeline.dispatch", broken)
    reply = wechat.send_text("o-bug", "提议题", msg_id=777)
    assert reply.status_code == 200 and "稍后再发" in reply.content
    assert count_rows(factory, ProcessedMessage) == 0 and count_rows(factory, Person) == 0
    monkeypatch.undo()
    retry = wechat.send_text("o-bug", "帮助", msg_id=777)
    assert "提议题" in retry.content
