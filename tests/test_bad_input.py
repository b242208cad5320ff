"""Bad callbacks get a 4xx and store nothing; duplicates are processed once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services.rooms import create_room
from storage.db import transaction
from storage.models import (
    DialogState,
    OutboxMessage,
    Person,
    ProcessedMessage,
    Proposal,
    RoomLevel,
    Suggestion,
)
from tests.wxclient import WeChatCallbackClient, WeComCallbackClient, build_text

STORED = (Person, ProcessedMessage, Proposal, Suggestion, DialogState, OutboxMessage)


def stored_rows(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        return {m.__tablename__: int(session.scalar(select(func.count()).select_from(m)) or 0) for m in STORED}


def nothing_stored(factory: sessionmaker[Session]) -> bool:
    return not any(stored_rows(factory).values())


def signed(client: WeChatCallbackClient, encrypt: str | None, *, ts: str | None = None) -> dict[str, str]:
    timestamp = ts or str(int(client_now(client)))
    return client.signed_query(encrypt, timestamp, "n0nce")


def client_now(client: WeChatCallbackClient) -> float:
    clock: Any = client.clock
    return float(clock.now().timestamp()) if hasattr(clock, "now") else float(clock())


def test_forged_signature_plain(wechat_plain: WeChatCallbackClient, factory: sessionmaker[Session]) -> None:
    """A plaintext callback with a forged signature is refused with 403."""
    response = wechat_plain.post_xml(build_text("o-x", "gh", "提议题"), tamper="signature")
    assert response.status_code == 403
    assert nothing_stored(factory)


def test_forged_msg_signature(wechat: WeChatCallbackClient, factory: sessionmaker[Session]) -> None:
    """A safe-mode callback with a forged msg_signature is refused with 403."""
    response = wechat.post_xml(build_text("o-x", "gh", "提议题"), tamper="msg_signature")
    assert response.status_code == 403
    assert nothing_stored(factory)


def test_forged_wecom_signature(wecom: WeComCallbackClient, factory: sessionmaker[Session]) -> None:
    """A WeCom callback with a forged signature is refused with 403."""
    response = wecom.post_xml(build_text("zhang", "ww", "帮助"), tamper="msg_signature")
    assert response.status_code == 403
    assert nothing_stored(factory)


def test_forged_url_checks(wechat: WeChatCallbackClient, wecom: WeComCallbackClient) -> None:
    """URL checks with forged signatures are refused and echo nothing."""
    assert wechat.verify_url("abc", tamper="signature").status_code == 403
    assert wecom.verify_url("abc", tamper="msg_signature").status_code == 403


@pytest.mark.parametrize("offset", [-301, 301, -86400 * 365])
def test_stale_timestamp(
    wechat: WeChatCallbackClient, clock: FakeClock, factory: sessionmaker[Session], offset: int
) -> None:
    """A correctly signed callback more than 5 minutes from now is refused with 403."""
    ts = str(int(clock.now().timestamp()) + offset)
    response = wechat.post_xml(build_text("o-x", "gh", "提议题"), timestamp=ts)
    assert response.status_code == 403
    assert nothing_stored(factory)


def test_stale_wecom_timestamp(wecom: WeComCallbackClient, clock: FakeClock, factory: sessionmaker[Session]) -> None:
    """WeCom callbacks are held to the same window."""
    ts = str(int(clock.now().timestamp()) - 600)
    assert wecom.post_xml(build_text("zhang", "ww", "帮助"), timestamp=ts).status_code == 403
    assert nothing_stored(factory)


BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o-bomb</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol3;</Content><MsgId>1</MsgId></xml>"""
EXTERNAL = """<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o-xxe</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>"""
MALFORMED = [
    BOMB,
    EXTERNAL,
    "<xml><ToUserName>gh</ToUserName><FromUserName>o-x",  # truncated
    "not xml at all",
    "<xml><MsgType>text</MsgType><Content>no sender</Content></xml>",
    "<other><FromUserName>o</FromUserName></other>",
    "<xml>just text</xml>",
    "{not json",
]


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_plain_xml(wechat_plain: WeChatCallbackClient, factory: sessionmaker[Session], body: str) -> None:
    """Malformed or hostile plaintext XML (entities, DTDs, truncation) is refused with 400."""
    response = wechat_plain.post_xml(body)
    assert response.status_code == 400
    assert nothing_stored(factory)


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_encrypted_xml(wechat: WeChatCallbackClient, factory: sessionmaker[Session], body: str) -> None:
    """Hostile XML inside a correctly encrypted and signed envelope is refused with 400."""
    response = wechat.post_xml(body)
    assert response.status_code == 400
    assert nothing_stored(factory)


def test_hostile_envelope(wechat: WeChatCallbackClient, factory: sessionmaker[Session]) -> None:
    """An entity bomb as the outer safe-mode envelope is refused before any parsing."""
    query = signed(wechat, "x")
    response = wechat.post_raw(BOMB.encode(), {**query, "encrypt_type": "aes"})
    assert response.status_code == 400
    assert nothing_stored(factory)


@pytest.mark.parametrize("garbage", ["", "AAAA", "!!!!notbase64", "QUJD" * 11, "A" * 64])
def test_undecryptable_payload(wechat: WeChatCallbackClient, factory: sessionmaker[Session], garbage: str) -> None:
    """Ciphertext that is signed but not decryptable is refused with 400 (not a 500)."""
    query = signed(wechat, garbage)
    body = f"<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[{garbage}]]></Encrypt></xml>".encode()
    response = wechat.post_raw(body, query)
    assert response.status_code == 400
    assert nothing_stored(factory)


def test_body_over_64kb(wechat_plain: WeChatCallbackClient, factory: sessionmaker[Session]) -> None:
    """A body over 64 KB is refused with 400."""
    response = wechat_plain.post_xml(build_text("o-big", "gh", "长" * 30_000))
    assert response.status_code == 400
    assert nothing_stored(factory)


def test_invalid_utf8(wechat_plain: WeChatCallbackClient, factory: sessionmaker[Session]) -> None:
    """A body that is not UTF-8 is refused with 400."""
    body = build_text("o-bin", "gh", "x").encode().replace(b"x", b"\xff\xfe\xfa")
    response = wechat_plain.post_raw(body, signed(wechat_plain, None))
    assert response.status_code == 400
    assert nothing_stored(factory)


def test_missing_query_parameters(client: TestClient, factory: sessionmaker[Session]) -> None:
    """Callbacks without their signature parameters are refused with 400, not 500."""
    assert client.post("/wechat", content=b"<xml/>").status_code == 400
    assert client.get("/wechat").status_code == 400
    assert client.post("/wecom", content=b"<xml/>").status_code == 400
    assert client.get("/wecom", params={"timestamp": "x"}).status_code == 400
    assert nothing_stored(factory)


# --- duplicates ------------------------------------------------------------------------------


def _room(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        create_room(session, name="幸福社区议事室", level=RoomLevel.village)


def test_same_message_three_times_at_once_files_one_proposal(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session]
) -> None:
    """The confirming message delivered three times concurrently files one proposal; all get one answer."""
    _room(factory)
    user = "o-dup"
    for text in ("提议题", "1", "楼道里的灯坏了很久，晚上上下楼很危险", "跳过", "跳过", "跳过"):
        assert wechat.send_text(user, text).status_code == 200
    xml = build_text(user, "gh_test", "确认", msg_id=987654321, create_time=int(client_now(wechat)))
    results: list[Any] = []
    barrier = threading.Barrier(3)

    def fire() -> None:
        barrier.wait()
        results.append(wechat.parse_reply(wechat.post_xml(xml)))

    threads = [threading.Thread(target=fire) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [200, 200, 200]
    contents = {r.content for r in results}
    assert len(contents) == 1
    assert "YS-2026-" in contents.pop()
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Proposal)) == 1


def test_retry_after_processing_gets_the_same_answer(wechat: WeChatCallbackClient) -> None:
    """A retry of an already answered message gets the same answer and changes nothing."""
    xml = build_text("o-retry", "gh_test", "提议题", msg_id=5550001)
    first = wechat.parse_reply(wechat.post_xml(xml))
    second = wechat.parse_reply(wechat.post_xml(xml))
    assert first.content == second.content
    third = wechat.send_text("o-retry", "帮助")
    assert "提议题" in third.content


def test_events_deduplicate_by_sender_time_and_event(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session]
) -> None:
    """Two deliveries of one click event are processed once; another event in the same second is not lost."""
    _room(factory)
    from tests.wxclient import build_event

    now = int(client_now(wechat))
    click = build_event("o-evt", "gh_test", "CLICK", "PROPOSE", create_time=now)
    wechat.post_xml(click)
    wechat.post_xml(click)
    mine = build_event("o-evt", "gh_test", "CLICK", "MINE", create_time=now)
    reply = wechat.parse_reply(wechat.post_xml(mine))
    assert "草稿" in reply.content or "还没有提交" in reply.content
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedMessage)) == 2


def test_concurrent_first_messages_create_one_person(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session]
) -> None:
    """A new user's first messages arriving at once create one person, and each is answered."""
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def fire(i: int) -> None:
        barrier.wait()
        codes.append(wechat.send_text("o-burst", f"帮助{i}" if i else "帮助").status_code)

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 4
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 1
        assert session.scalar(select(func.count()).select_from(ProcessedMessage)) == 4
