"""Plaintext mode (明文 / 兼容模式): the signature covers token, timestamp and nonce only, so the
(timestamp, nonce) of an accepted callback is taken once per body. A genuine retry (the very same
request) still gets its stored reply; a forged body on a used pair is refused, however often."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.clock import FakeClock
from bot.services.rooms import create_room
from scheduler import jobs
from storage.db import transaction
from storage.models import CallbackNonce, Invite, Proposal, Role, RoomLevel
from tests.conftest import make_settings
from tests.fake_wechat import FakeWeChat
from tests.helpers import bind, count_rows, talk
from tests.wxclient import DEFAULT_WECHAT, WeChatCallbackClient, build_text

CONVENOR = "o-convenor-of-the-room"
FORGERY = "邀请 召集人"


@pytest.fixture
def room(factory: sessionmaker[Session], wechat: WeChatCallbackClient, clock: FakeClock) -> int:
    """A room whose convenor talks to the official account."""
    with transaction(factory) as session:
        room_id = create_room(session, name="幸福社区议事室", level=RoomLevel.village).id
    bind(wechat, factory, clock, CONVENOR, room_id=room_id, role=Role.convenor)
    return room_id


def accepted_url(client: WeChatCallbackClient, user: str, text: str) -> dict[str, str]:
    """Post a genuine message the platform's way and return the query its URL carried."""
    ts, nonce = client.timestamp(), client.new_nonce()
    xml = build_text(user, client.to_user, text, create_time=client.now())
    if client.encrypted:
        encrypt = client.crypto.encrypt(xml)
        query = client.signed_query(encrypt, ts, nonce, openid=user)
        response = client.post_raw(client.envelope(encrypt), query)
    else:
        query = client.signed_query(None, ts, nonce, openid=user)
        response = client.post_raw(xml, query)
    assert response.status_code == 200
    return query


def forged(client: WeChatCallbackClient, seen: dict[str, str], user: str, text: str) -> tuple[int, str]:
    """A plaintext body of the attacker's choosing, on the signature, timestamp and nonce of `seen`."""
    query = {key: seen[key] for key in ("signature", "timestamp", "nonce")} | {"openid": user}
    response = client.post_raw(build_text(user, client.to_user, text, create_time=client.now()), query)
    return response.status_code, response.text


@pytest.mark.usefixtures("room")
@pytest.mark.parametrize("seen_on", ["wechat", "wechat_plain"])
def test_a_seen_url_does_not_carry_a_forged_body(
    seen_on: str, request: pytest.FixtureRequest, wechat_plain: WeChatCallbackClient, factory: sessionmaker[Session]
) -> None:
    """The signature of a resident's message (encrypted or plain) does not let 邀请 召集人 through as
    the convenor, neither the first time nor the second."""
    client: WeChatCallbackClient = request.getfixturevalue(seen_on)
    seen = accepted_url(client, "o-resident", "你好")
    invites = count_rows(factory, Invite)
    for _attempt in range(2):
        status, body = forged(wechat_plain, seen, CONVENOR, FORGERY)
        assert status == 403 and "邀请码" not in body
    assert count_rows(factory, Invite) == invites
    assert "邀请码" in wechat_plain.send_text(CONVENOR, FORGERY).content  # the convenor's own message still works


@pytest.mark.usefixtures("room")
@pytest.mark.parametrize("client_name", ["wechat", "wechat_plain"])
def test_a_retry_gets_the_stored_reply_and_a_different_body_is_refused(
    client_name: str,
    request: pytest.FixtureRequest,
    wechat_plain: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    """WeChat retries a message with the same timestamp and nonce: the retry, even after a forgery
    on the same pair was refused, gets the first delivery's reply and files nothing twice."""
    client: WeChatCallbackClient = request.getfixturevalue(client_name)
    user = "o-retry"
    talk(client, user, "提议题", "1", "楼道里的灯坏了很久，晚上上下楼很危险", "跳过", "跳过", "跳过")
    ts, nonce = client.timestamp(), client.new_nonce()
    xml = build_text(user, client.to_user, "确认", 880001, client.now())
    if client.encrypted:
        encrypt = client.crypto.encrypt(xml)
        body, query = client.envelope(encrypt), client.signed_query(encrypt, ts, nonce, openid=user)
    else:
        body, query = xml, client.signed_query(None, ts, nonce, openid=user)
    first = client.parse_reply(client.post_raw(body, query)).content
    assert "受理编号：YS-2026-" in first
    assert forged(wechat_plain, query, CONVENOR, FORGERY)[0] == 403
    clock.advance(timedelta(seconds=5))
    assert client.parse_reply(client.post_raw(body, query)).content == first
    assert count_rows(factory, Proposal) == 1


@pytest.mark.usefixtures("room")
def test_the_url_check_signature_does_not_carry_a_message(
    wechat_plain: WeChatCallbackClient, factory: sessionmaker[Session]
) -> None:
    ts, nonce = wechat_plain.timestamp(), wechat_plain.new_nonce()
    query = wechat_plain.verify_query("echo-1", ts, nonce)
    assert wechat_plain.get_raw(query).text == "echo-1"
    assert wechat_plain.get_raw(query).text == "echo-1"  # the console may check twice
    invites = count_rows(factory, Invite)
    assert forged(wechat_plain, query, CONVENOR, FORGERY)[0] == 403
    assert count_rows(factory, Invite) == invites


@pytest.fixture
def other_worker(settings: object, clock: FakeClock) -> Iterator[WeChatCallbackClient]:
    """A second web process on the same database."""
    app = create_app(settings, clock)  # type: ignore[arg-type]
    with TestClient(app) as http:
        yield WeChatCallbackClient(
            http, token=DEFAULT_WECHAT["token"], encoding_aes_key=None, app_id=DEFAULT_WECHAT["app_id"], clock=clock
        )
    app.state.runtime.close()


@pytest.mark.usefixtures("room")
def test_every_worker_knows_the_used_nonces(
    wechat: WeChatCallbackClient, other_worker: WeChatCallbackClient, factory: sessionmaker[Session]
) -> None:
    seen = accepted_url(wechat, "o-resident", "你好")
    invites = count_rows(factory, Invite)
    assert forged(other_worker, seen, CONVENOR, FORGERY)[0] == 403
    assert count_rows(factory, Invite) == invites


@pytest.mark.usefixtures("room")
def test_used_nonces_are_forgotten_once_their_timestamp_is_stale(
    wechat: WeChatCallbackClient,
    wechat_plain: WeChatCallbackClient,
    runtime: object,
    clock: FakeClock,
    factory: sessionmaker[Session],
) -> None:
    """The prune job forgets a nonce after twice the signature window; the URL is stale by then."""
    seen = accepted_url(wechat, "o-resident", "你好")
    jobs.bind(runtime)  # type: ignore[arg-type]
    jobs.prune_processed()
    assert count_rows(factory, CallbackNonce) >= 1  # still inside the window: kept
    clock.advance(timedelta(seconds=601))
    jobs.prune_processed()
    assert count_rows(factory, CallbackNonce) == 0
    assert forged(wechat_plain, seen, CONVENOR, FORGERY)[0] == 403  # stale


def test_safe_mode_keeps_no_nonces(db_url: str, fake: FakeWeChat, clock: FakeClock) -> None:
    """Safe mode refuses plaintext outright: the encrypted body is signed, nothing needs remembering."""
    app = create_app(make_settings(db_url, fake.base_url, wechat_message_mode="safe"), clock)
    with TestClient(app) as http:
        client = WeChatCallbackClient(http, clock=clock, **DEFAULT_WECHAT)
        assert "提议题" in client.send_text("o-a", "你好").content
    assert count_rows(app.state.runtime.factory, CallbackNonce) == 0
    app.state.runtime.close()
