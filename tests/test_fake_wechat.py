"""Tests of the local WeChat / WeCom fake itself, driven over real HTTP with httpx."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.fake_wechat import (
    CUSTOM_SEND_PATH,
    MEDIA_GET_PATH,
    MENU_CREATE_PATH,
    SUBSCRIBE_SEND_PATH,
    TEMPLATE_SEND_PATH,
    TICKET_PATH,
    WECOM_SEND_PATH,
    FakeWeChat,
    png,
)


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    """A running fake, stopped after the test."""
    with FakeWeChat() as server:
        yield server


@pytest.fixture
def client(fake: FakeWeChat) -> Iterator[httpx.Client]:
    """An httpx client pointed at the fake."""
    with httpx.Client(base_url=fake.base_url, timeout=5.0) as http:
        yield http


def oa_token(client: httpx.Client) -> str:
    """Fetch an official-account access token."""
    params = {"grant_type": "client_credential", "appid": "wx-app", "secret": "s3cret"}
    return str(client.get("/cgi-bin/token", params=params).json()["access_token"])


def wecom_token(client: httpx.Client) -> str:
    """Fetch a WeCom access token."""
    params = {"corpid": "ww-corp", "corpsecret": "s3cret"}
    return str(client.get("/cgi-bin/gettoken", params=params).json()["access_token"])


def send_text(client: httpx.Client, token: str, openid: str, content: str) -> httpx.Response:
    """Send an official-account customer-service text message."""
    body = {"touser": openid, "msgtype": "text", "text": {"content": content}}
    return client.post(CUSTOM_SEND_PATH, params={"access_token": token}, json=body)


def test_token_issue_and_use(fake: FakeWeChat, client: httpx.Client) -> None:
    """Issued tokens are unique, counted, and accepted by the send endpoint, which records the text."""
    first, second = oa_token(client), oa_token(client)
    assert first.startswith("oa-token-") and second.startswith("oa-token-") and first != second
    reply = send_text(client, second, "o_alice", "你好")
    assert reply.status_code == 200
    assert reply.json() == {"errcode": 0, "errmsg": "ok"}
    assert fake.token_fetches() == 2
    assert fake.sent_texts() == [("o_alice", "你好")]
    (call,) = fake.calls(CUSTOM_SEND_PATH)
    assert call.method == "POST" and call.query == {"access_token": second} and call.ok


def test_stable_token_is_reused_until_force_refresh(client: httpx.Client) -> None:
    """stable_token returns the same token until force_refresh, which revokes the old one."""
    body: dict[str, Any] = {"grant_type": "client_credential", "appid": "wx-app", "secret": "s3cret"}
    first = client.post("/cgi-bin/stable_token", json=body).json()
    again = client.post("/cgi-bin/stable_token", json=body).json()
    assert again["access_token"] == first["access_token"] and 0 < again["expires_in"] <= 7200
    fresh = client.post("/cgi-bin/stable_token", json={**body, "force_refresh": True}).json()
    assert fresh["access_token"] != first["access_token"]
    assert send_text(client, first["access_token"], "o_a", "x").json()["errcode"] == 40001
    assert send_text(client, fresh["access_token"], "o_a", "x").json()["errcode"] == 0


def test_unissued_token_is_rejected(fake: FakeWeChat, client: httpx.Client) -> None:
    """A token the fake never issued gets 40001 and the failed call is recorded but not delivered."""
    reply = send_text(client, "forged-token", "o_alice", "hi")
    assert reply.status_code == 200
    assert reply.json() == {"errcode": 40001, "errmsg": "invalid credential"}
    assert [c.errcode for c in fake.calls(CUSTOM_SEND_PATH)] == [40001]
    assert fake.sent_texts() == []
    assert fake.delivery_counts() == {}


def test_tokens_are_scoped_to_their_api(client: httpx.Client) -> None:
    """A WeCom token is refused by official-account endpoints and vice versa."""
    assert send_text(client, wecom_token(client), "o_alice", "hi").json()["errcode"] == 40001
    body = {"touser": "u1", "msgtype": "text", "agentid": 1, "text": {"content": "hi"}}
    reply = client.post(WECOM_SEND_PATH, params={"access_token": oa_token(client)}, json=body)
    assert reply.json()["errcode"] == 40001


def test_expire_tokens_answers_42001_until_refetched(fake: FakeWeChat, client: httpx.Client) -> None:
    """After expire_tokens() old tokens get 42001 (or the chosen code) and new tokens work."""
    old = oa_token(client)
    fake.expire_tokens()
    assert send_text(client, old, "o_alice", "hi").json()["errcode"] == 42001
    new = oa_token(client)
    assert new != old
    assert send_text(client, new, "o_alice", "hi").json()["errcode"] == 0
    fake.expire_tokens(code=40001)
    assert send_text(client, new, "o_alice", "hi").json()["errcode"] == 40001
    assert fake.sent_texts() == [("o_alice", "hi")]


def test_token_ttl_expires_tokens() -> None:
    """Tokens lapse after token_ttl: with token_ttl=0 they answer 42001 and gettoken issues new ones."""
    with FakeWeChat(token_ttl=0) as fake, httpx.Client(base_url=fake.base_url) as client:
        token = oa_token(client)
        assert send_text(client, token, "o_alice", "hi").json()["errcode"] == 42001
        assert wecom_token(client) != wecom_token(client)
        assert fake.sent_texts() == []


def test_fail_next_errcode_applies_given_times(fake: FakeWeChat, client: httpx.Client) -> None:
    """fail_next(errcode, times=2) fails exactly the next two calls to the path, then it recovers."""
    token = oa_token(client)
    fake.fail_next(CUSTOM_SEND_PATH, errcode=45009, times=2)
    codes = [send_text(client, token, "o_alice", f"m{i}").json()["errcode"] for i in range(3)]
    assert codes == [45009, 45009, 0]
    assert fake.sent_texts() == [("o_alice", "m2")]
    assert len(fake.calls(CUSTOM_SEND_PATH)) == 3


def test_fail_next_http_status(fake: FakeWeChat, client: httpx.Client) -> None:
    """fail_next(status=500) answers HTTP 500 with a text body once."""
    token = oa_token(client)
    fake.fail_next(CUSTOM_SEND_PATH, status=500)
    reply = send_text(client, token, "o_alice", "hi")
    assert reply.status_code == 500
    assert reply.headers["content-type"].startswith("text/plain")
    assert "500" in reply.text
    assert send_text(client, token, "o_alice", "hi").status_code == 200
    assert [c.status for c in fake.calls(CUSTOM_SEND_PATH)] == [500, 200]


def test_fail_for_affects_one_user_only(fake: FakeWeChat, client: httpx.Client) -> None:
    """fail_for() keeps failing matching calls with 45015 until clear_failures(); others succeed."""
    token = oa_token(client)
    fake.fail_for(CUSTOM_SEND_PATH, lambda body: body["touser"] == "o_gone", 45015)
    for openid in ("o_alice", "o_gone", "o_bob", "o_gone"):
        expected = 45015 if openid == "o_gone" else 0
        assert send_text(client, token, openid, "hi").json()["errcode"] == expected
    fake.clear_failures()
    assert send_text(client, token, "o_gone", "late").json()["errcode"] == 0
    assert fake.sent_texts() == [("o_alice", "hi"), ("o_bob", "hi"), ("o_gone", "late")]
    assert fake.sent_texts(to="o_gone") == [("o_gone", "late")]


def test_wecom_touser_is_expanded(fake: FakeWeChat, client: httpx.Client) -> None:
    """A WeCom send to "a|b|c" is one call but one delivery per user."""
    token = wecom_token(client)
    assert token.startswith("wecom-token-")
    body = {"touser": "zhang|li|wang", "msgtype": "text", "agentid": 1000002, "text": {"content": "开会"}}
    reply = client.post(WECOM_SEND_PATH, params={"access_token": token}, json=body).json()
    assert reply["errcode"] == 0 and reply["invaliduser"] == "" and reply["msgid"]
    assert fake.sent_texts() == [("zhang", "开会"), ("li", "开会"), ("wang", "开会")]
    assert fake.delivery_counts() == {"zhang": 1, "li": 1, "wang": 1}
    assert fake.send_counts() == {WECOM_SEND_PATH: 1}


def test_template_send_and_menu_are_stored(fake: FakeWeChat, client: httpx.Client) -> None:
    """Template sends answer increasing msgids and menu/create keeps the last menu."""
    params = {"access_token": oa_token(client)}
    template = {"touser": "o_alice", "template_id": "tpl-1", "data": {"first": {"value": "提醒"}}}
    ids = [client.post(TEMPLATE_SEND_PATH, params=params, json=template).json()["msgid"] for _ in range(2)]
    assert ids[0] < ids[1]
    assert fake.template_sends(to="o_alice") == [template, template]
    assert fake.template_sends(to="o_bob") == []
    menu = {"button": [{"type": "click", "name": "议事", "key": "ROOMS"}]}
    assert client.post(MENU_CREATE_PATH, params=params, json=menu).json()["errcode"] == 0
    assert fake.menu == menu


def test_subscription_send_checks_its_data_and_answers_a_msgid_when_asked(
    fake: FakeWeChat, client: httpx.Client
) -> None:
    """`bizsend` answers errcode/errmsg as documented, a msgid when told to (as WeChat really does); data
    values must be `{"value": ...}` (47003 otherwise)."""
    token = oa_token(client)
    body: dict[str, Any] = {"touser": "o_a", "template_id": "tpl", "data": {"thing1": {"value": "路灯"}}}
    assert client.post(SUBSCRIBE_SEND_PATH, params={"access_token": token}, json=body).json() == {
        "errcode": 0,
        "errmsg": "ok",
    }
    fake.answer_subscribe_msgids()
    assert "msgid" in client.post(SUBSCRIBE_SEND_PATH, params={"access_token": token}, json=body).json()
    bad = {**body, "data": {"thing1": "路灯"}}
    assert client.post(SUBSCRIBE_SEND_PATH, params={"access_token": token}, json=bad).json()["errcode"] == 47003
    assert [b["touser"] for b in fake.subscription_sends()] == ["o_a", "o_a"]
    fake.reset()  # also forgets the msgid answers
    assert "msgid" not in client.post(SUBSCRIBE_SEND_PATH, params={"access_token": token}, json=body).json()


def test_jsapi_ticket_needs_a_token_and_the_jsapi_type(client: httpx.Client) -> None:
    token = oa_token(client)
    answer = client.get(TICKET_PATH, params={"access_token": token, "type": "jsapi"}).json()
    assert answer["errcode"] == 0 and answer["ticket"].startswith("fake-jsapi-ticket-") and answer["expires_in"] > 0
    assert client.get(TICKET_PATH, params={"access_token": token, "type": "wx_card"}).json()["errcode"] == 40097
    assert client.get(TICKET_PATH, params={"access_token": "nope", "type": "jsapi"}).json()["errcode"] == 40001


def test_unknown_path_is_404_json(fake: FakeWeChat, client: httpx.Client) -> None:
    """An unknown API path answers HTTP 404 with an errcode body and is recorded."""
    reply = client.get("/cgi-bin/nonexistent", params={"access_token": "x"})
    assert reply.status_code == 404
    assert reply.json()["errcode"] == 404
    assert [c.path for c in fake.calls()] == ["/cgi-bin/nonexistent"]


def test_fail_next_delay_makes_client_time_out(fake: FakeWeChat, client: httpx.Client) -> None:
    """A delayed reply outlasts a 0.2 s client timeout; the next call is answered normally."""
    token = oa_token(client)
    fake.fail_next(CUSTOM_SEND_PATH, delay=30.0)
    with pytest.raises(httpx.TimeoutException):
        client.post(
            CUSTOM_SEND_PATH,
            params={"access_token": token},
            json={"touser": "o_alice", "msgtype": "text", "text": {"content": "slow"}},
            timeout=0.2,
        )
    assert send_text(client, token, "o_alice", "fast").json()["errcode"] == 0
    assert fake.sent_texts() == [("o_alice", "fast")]


def test_counters_only_mode() -> None:
    """With record_bodies=False the fake keeps counters and refuses to list calls."""
    with FakeWeChat(record_bodies=False) as fake, httpx.Client(base_url=fake.base_url) as client:
        token = oa_token(client)
        for openid in ("o_a", "o_b", "o_a"):
            assert send_text(client, token, openid, "hi").json()["errcode"] == 0
        assert send_text(client, "bad", "o_c", "hi").json()["errcode"] == 40001
        assert fake.delivery_counts() == {"o_a": 2, "o_b": 1}
        assert fake.send_counts() == {CUSTOM_SEND_PATH: 3}
        assert fake.request_counts()[CUSTOM_SEND_PATH] == 4
        with pytest.raises(RuntimeError):
            fake.calls()
        fake.reset()
        assert fake.delivery_counts() == {} and fake.token_fetches() == 0
        assert send_text(client, token, "o_a", "still valid").json()["errcode"] == 0


def test_concurrent_sends_are_all_counted(fake: FakeWeChat) -> None:
    """Many sends from many threads at once are all answered and counted exactly."""
    with httpx.Client(base_url=fake.base_url, limits=httpx.Limits(max_connections=32)) as client:
        token = oa_token(client)

        def send(i: int) -> int:
            return int(send_text(client, token, f"o_{i % 10}", f"m{i}").json()["errcode"])

        with ThreadPoolExecutor(max_workers=32) as pool:
            codes = list(pool.map(send, range(400)))
    assert codes == [0] * 400
    assert fake.delivery_counts() == {f"o_{n}": 40 for n in range(10)}
    assert len(fake.sent_texts()) == 400
    assert fake.wait_for_sends(400, timeout=0)


def test_stop_closes_idle_keepalive_connections() -> None:
    """stop() returns even while a client still holds an idle keep-alive connection open."""
    fake = FakeWeChat().start()
    client = httpx.Client(base_url=fake.base_url)
    try:
        oa_token(client)
        stopper = threading.Thread(target=fake.stop)
        stopper.start()
        stopper.join(timeout=10)
        assert not stopper.is_alive()
        with pytest.raises(RuntimeError):
            _ = fake.base_url
    finally:
        client.close()
        fake.stop()


def test_media_get_serves_each_apis_own_media_and_40007_once_expired(fake: FakeWeChat, client: httpx.Client) -> None:
    """media/get answers the file with its content type to a token of the API that received it; another API's
    token, an unknown id and an expired one get 40007 (JSON), as WeChat answers for temporary media past 3 days."""
    photo = png()
    fake.add_media("oa-photo", photo, "image/png", channel="wechat")
    fake.add_media("wecom-photo", b"\xff\xd8\xff\xe0jpeg", "image/jpeg", channel="wecom")
    oa, corp = oa_token(client), wecom_token(client)

    got = client.get(MEDIA_GET_PATH, params={"access_token": oa, "media_id": "oa-photo"})
    assert got.status_code == 200 and got.content == photo and got.headers["content-type"] == "image/png"
    got = client.get(MEDIA_GET_PATH, params={"access_token": corp, "media_id": "wecom-photo"})
    assert got.content.startswith(b"\xff\xd8") and got.headers["content-type"] == "image/jpeg"
    assert client.get(MEDIA_GET_PATH, params={"access_token": corp, "media_id": "oa-photo"}).json()["errcode"] == 40007
    assert client.get(MEDIA_GET_PATH, params={"access_token": oa, "media_id": "nope"}).json()["errcode"] == 40007
    assert client.get(MEDIA_GET_PATH, params={"media_id": "oa-photo"}).json()["errcode"] == 41001

    fake.expire_media("oa-photo")
    assert client.get(MEDIA_GET_PATH, params={"access_token": oa, "media_id": "oa-photo"}).json()["errcode"] == 40007
    assert [c.ok for c in fake.calls(MEDIA_GET_PATH)] == [True, True, False, False, False, False]
