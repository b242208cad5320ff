"""Hostile callbacks the explicit bad-input tests do not cover: entities that would resolve to
something useful, undecodable plaintext inside valid ciphertext, a 10 MB body, replays, and
injection text filed through the real dialog."""

from __future__ import annotations

import asyncio
import base64
import socket
import struct
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, sessionmaker
from wechatpy.crypto import PrpCrypto

from bot.channels.xml import BadXML, parse_envelope, parse_message
from bot.clock import FakeClock
from bot.services.rooms import create_room
from bot.text import shorten
from storage.db import transaction
from storage.models import ProcessedMessage, Proposal, RoomLevel
from tests.helpers import count_rows, talk
from tests.test_bad_input import nothing_stored, stored_rows
from tests.wxclient import WeChatCallbackClient, WeComCallbackClient, build_image, build_text, cdata

Client = WeChatCallbackClient | WeComCallbackClient
SECRET = "o-entity-resolved"  # what an internal entity expands to; must never be seen or stored


@pytest.fixture
def room(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        create_room(session, name="幸福社区议事室", level=RoomLevel.village)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A local TCP port an external entity points at: any connection means an entity was fetched."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    sock.setblocking(False)
    yield sock
    sock.close()


def nobody_called(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


def msg(user: str, content: str) -> str:
    """Message fields after the root tag, for hand-built documents with a DTD in front."""
    return (
        f"<ToUserName>gh</ToUserName><FromUserName>{user}</FromUserName><CreateTime>1795399200</CreateTime>"
        f"<MsgType>text</MsgType><Content>{content}</Content><MsgId>42</MsgId>"
    )


def hostile_documents(port: int) -> dict[str, str]:
    """Documents that, if any entity resolved, would be a perfectly valid text message."""
    url = f"http://127.0.0.1:{port}/x"
    laughs = '<!ENTITY a "ha">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)
    )
    return {
        "billion-laughs": f"<!DOCTYPE xml [{laughs}]><xml>{msg('o-bomb', '&i;')}</xml>",
        "internal-sender": f'<!DOCTYPE xml [<!ENTITY u "{SECRET}">]><xml>{msg("&u;", "帮助")}</xml>',
        "file-system": f'<!DOCTYPE xml [<!ENTITY f SYSTEM "file:///etc/passwd">]><xml>{msg("o-f", "&f;")}</xml>',
        "http-system": f'<!DOCTYPE xml [<!ENTITY h SYSTEM "{url}">]><xml>{msg("o-h", "&h;")}</xml>',
        "parameter": f'<!DOCTYPE xml [<!ENTITY % p SYSTEM "{url}"> %p;]><xml>{msg("o-p", "帮助")}</xml>',
        "parameter-nested": (
            f"<!DOCTYPE xml [<!ENTITY % q \"<!ENTITY u '{SECRET}'>\"> %q;]><xml>{msg('&u;', '帮助')}</xml>"
        ),
        "external-dtd": f'<!DOCTYPE xml SYSTEM "{url}"><xml>{msg("o-d", "帮助")}</xml>',
        "xml-decl-first": f'<?xml version="1.0"?>\n<!DOCTYPE xml [<!ENTITY u "{SECRET}">]><xml>{msg("&u;", "x")}</xml>',
    }


def assert_refused(response: Any) -> None:
    assert response.status_code in (400, 403)
    assert SECRET not in response.text and "root:" not in response.text and "haha" not in response.text


HOSTILE = list(hostile_documents(1))


@pytest.mark.parametrize("name", HOSTILE)
def test_entities_refused_in_every_channel(
    name: str,
    wechat_plain: WeChatCallbackClient,
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    listener: socket.socket,
) -> None:
    """DTDs and entities (internal, file, http, parameter, external DTD) are refused in plain XML and
    inside a properly signed and encrypted payload; nothing is fetched, echoed or stored."""
    doc = hostile_documents(listener.getsockname()[1])[name]
    utf16 = doc.encode("utf-16")  # the `<!DOCTYPE` byte check cannot see it in UTF-16
    for client in (wechat_plain, wechat, wecom):
        assert_refused(client.post_xml(doc))
    assert_refused(wechat_plain.post_raw(utf16, wechat_plain.signed_query(None, wechat_plain.timestamp(), "n0nce")))
    assert_refused(post_encrypted(wechat, encrypt_bytes(wechat, utf16)))
    assert_refused(post_encrypted(wecom, encrypt_bytes(wecom, utf16)))
    assert nobody_called(listener)
    assert nothing_stored(factory)


@pytest.mark.parametrize("client_name", ["wechat", "wecom"])
def test_entity_in_the_envelope_never_resolves(
    client_name: str, request: pytest.FixtureRequest, factory: sessionmaker[Session]
) -> None:
    """An envelope whose <Encrypt> is an entity standing for a valid, correctly signed ciphertext:
    if the entity resolved, the message would go through. It must be refused."""
    client: Client = request.getfixturevalue(client_name)
    encrypt = client.crypto.encrypt(build_text("o-env", client.to_user, "帮助", create_time=client.now()))
    query = client.signed_query(encrypt, client.timestamp(), "n0nce")
    for dtd in (f'<!DOCTYPE xml [<!ENTITY e "{encrypt}">]>', f'<!DOCTYPE xml [<!ENTITY % e "{encrypt}">]>'):
        for body in (f"{dtd}<xml><Encrypt>&e;</Encrypt></xml>", f"{dtd}<xml><Encrypt>{cdata(encrypt)}</Encrypt></xml>"):
            assert client.post_raw(body, query).status_code == 400
            assert client.post_raw(body.encode("utf-16"), query).status_code == 400
    assert nothing_stored(factory)
    # The control: the same ciphertext and signature in a plain envelope is a good message.
    assert client.parse_reply(client.post_raw(client.envelope(encrypt), query)).content


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_parser_refuses_entities_the_byte_check_cannot_see(encoding: str) -> None:
    """In UTF-16/32 the `<!DOCTYPE` byte check sees nothing; the parser refuses the entities itself."""
    doc = f'<?xml version="1.0" encoding="{encoding.upper()}"?><!DOCTYPE xml [<!ENTITY u "{SECRET}">]>'
    raw = (doc + f"<xml>{msg('&u;', '帮助')}<Encrypt>&u;</Encrypt></xml>").encode(encoding)
    assert b"<!DOCTYPE" not in raw
    for channel in ("wechat", "wecom"):
        with pytest.raises(BadXML):
            parse_message(raw, channel)
    with pytest.raises(BadXML):
        parse_envelope(raw)


# --- undecodable plaintext inside valid ciphertext ---------------------------------------------


def encrypt_bytes(client: Client, payload: bytes, receive_id: bytes | None = None) -> str:
    """AES exactly as WeChat does it, but over arbitrary bytes (wechatpy's own code takes bytes)."""
    prp = PrpCrypto(client.crypto.key)
    rid = receive_id if receive_id is not None else client.crypto.receive_id.encode()
    return str(prp._encrypt(payload, rid).decode("ascii"))


def raw_layout(client: Client, body: bytes) -> str:
    """The plaintext layout with a lying length field: 16 random bytes, length, body, receive id."""
    prp = PrpCrypto(client.crypto.key)
    plain = b"r" * 16 + struct.pack(">I", 10_000) + body + client.crypto.receive_id.encode()
    pad = 32 - len(plain) % 32
    return base64.b64encode(prp.cipher.encrypt(plain + bytes([pad]) * pad)).decode()


def post_encrypted(client: Client, encrypt: str) -> Any:
    query = client.signed_query(encrypt, client.timestamp(), "n0nce")
    return client.post_raw(client.envelope(encrypt), query)


@pytest.mark.parametrize("client_name", ["wechat", "wecom"])
def test_invalid_utf8_inside_the_ciphertext(
    client_name: str, request: pytest.FixtureRequest, factory: sessionmaker[Session]
) -> None:
    """Signed ciphertext whose plaintext is not UTF-8 (in the message or the receive id), or whose
    length field lies, is refused with 400, not a 500."""
    client: Client = request.getfixturevalue(client_name)
    good = build_text("o-utf8", client.to_user, "帮助", create_time=client.now()).encode()
    payloads = [
        encrypt_bytes(client, good.replace("帮助".encode(), b"\xff\xfe\xc3\x28")),
        encrypt_bytes(client, good.replace(b"o-utf8", b"o-\xed\xa0\x80")),  # an encoded lone surrogate
        encrypt_bytes(client, good, receive_id=b"\xff" + client.crypto.receive_id.encode()),
        encrypt_bytes(client, good[:-7]),  # truncated XML
        encrypt_bytes(client, b""),
        raw_layout(client, good),
    ]
    for encrypt in payloads:
        assert post_encrypted(client, encrypt).status_code == 400
    assert nothing_stored(factory)


def test_invalid_utf8_wecom_echostr(wecom: WeComCallbackClient) -> None:
    """A URL check whose encrypted echostr decrypts to bytes that are not UTF-8 gets 400."""
    encrypt = encrypt_bytes(wecom, b"\xff\xfeecho")
    response = wecom.get_raw(wecom.verify_query(encrypt, wecom.timestamp(), "n0nce"))
    assert response.status_code == 400


# --- a 10 MB body --------------------------------------------------------------------------------

TEN_MB = 10 * 1024 * 1024
CHUNK = 64 * 1024


def test_ten_megabytes_refused(
    wechat_plain: WeChatCallbackClient,
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
) -> None:
    """A 10 MB body is refused with 400 on every channel, signed or not."""
    body = b"<xml><Content>" + b"A" * TEN_MB + b"</Content></xml>"
    assert (
        wechat_plain.post_raw(body, wechat_plain.signed_query(None, wechat_plain.timestamp(), "n")).status_code == 400
    )
    assert wechat.post_raw(body, wechat.signed_query("x", wechat.timestamp(), "n")).status_code == 400
    assert wecom.post_raw(body, wecom.signed_query("x", wecom.timestamp(), "n")).status_code == 400
    assert nothing_stored(factory)


def drive(
    app: FastAPI, path: str, query: str, chunks: Iterator[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[int, int]:
    """Call the ASGI app with a streamed body; the status and how many body bytes it pulled."""
    pulled = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver"), (b"content-type", b"text/xml"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return status, pulled


def ten_mb() -> Iterator[bytes]:
    return (b"A" * CHUNK for _ in range(TEN_MB // CHUNK))


def test_big_body_is_not_read_into_memory(app: FastAPI, clock: FakeClock, factory: sessionmaker[Session]) -> None:
    """A declared 10 MB body is refused before a byte is read; a streamed one (no length, or a lying
    length) is refused once it passes the limit, without pulling the rest."""
    limit: int = app.state.runtime.settings.max_body_bytes
    signer = WeChatCallbackClient(None, token=app.state.runtime.settings.wechat_token.get_secret_value(), clock=clock)  # type: ignore[arg-type]
    ts = signer.timestamp()
    plain = f"signature={signer.crypto.signature(ts, 'n')}&timestamp={ts}&nonce=n"
    for path, query in (("/wechat", plain), ("/wecom", f"msg_signature={'0' * 40}&timestamp={ts}&nonce=n")):
        status, pulled = drive(app, path, query, ten_mb(), [(b"content-length", str(TEN_MB).encode())])
        assert (status, pulled) == (400, 0)
        status, pulled = drive(app, path, query, ten_mb(), [])
        assert status == 400 and pulled <= limit + CHUNK
        status, pulled = drive(app, path, query, ten_mb(), [(b"content-length", b"100")])
        assert status == 400 and pulled <= limit + CHUNK
        for bad in (b"-1", b"abc", b"1e9"):
            assert drive(app, path, query, ten_mb(), [(b"content-length", bad)]) == (400, 0)
    assert nothing_stored(factory)


# --- replays ---------------------------------------------------------------------------------


def capture(client: Client, xml: str) -> tuple[bytes, dict[str, str]]:
    """The exact request (body, query) the platform would send now, to post and replay verbatim."""
    ts, nonce = client.timestamp(), client.new_nonce()
    if isinstance(client, WeChatCallbackClient) and not client.encrypted:
        return xml.encode(), client.signed_query(None, ts, nonce)
    encrypt = client.crypto.encrypt(xml)
    return client.envelope(encrypt).encode(), client.signed_query(encrypt, ts, nonce)


@pytest.mark.usefixtures("room")
@pytest.mark.parametrize("client_name", ["wechat_plain", "wechat", "wecom"])
def test_replayed_confirmation(
    client_name: str, request: pytest.FixtureRequest, clock: FakeClock, factory: sessionmaker[Session]
) -> None:
    """A captured confirming request replayed verbatim within the window gets the same receipt and
    files nothing more; replayed once the window has passed it gets 403."""
    client: Client = request.getfixturevalue(client_name)
    user = "o-replay"
    talk(client, user, "提议题", "1", "楼道里的灯坏了很久，晚上上下楼很危险", "跳过", "跳过", "跳过")
    xml = build_text(user, client.to_user, "确认", 777001, client.now(), client.message_agent_id)
    body, query = capture(client, xml)
    first = client.parse_reply(client.post_raw(body, query)).content
    assert "受理编号：YS-2026-" in first
    processed = count_rows(factory, ProcessedMessage)
    for step in (0, 200, 90):  # replays at +0 s, +200 s and +290 s: still inside the 300 s window
        clock.advance(timedelta(seconds=step))
        assert client.parse_reply(client.post_raw(body, query)).content == first
    clock.advance(timedelta(seconds=11))
    replay = client.post_raw(body, query)
    assert replay.status_code == 403 and "YS-2026-" not in replay.text
    assert count_rows(factory, Proposal) == 1
    assert count_rows(factory, ProcessedMessage) == processed


def test_old_signed_url_checks_refused(
    wechat: WeChatCallbackClient, wecom: WeComCallbackClient, wechat_plain: WeChatCallbackClient, clock: FakeClock
) -> None:
    """URL checks and plain-mode messages correctly signed an hour ago (or ahead) get 403, echoing nothing."""
    for offset in (-3600, 3600):
        ts = str(int(clock.now().timestamp()) + offset)
        response = wechat.verify_url("echo-me", timestamp=ts)
        assert response.status_code == 403 and "echo-me" not in response.text
        response = wecom.verify_url("echo-me", timestamp=ts)
        assert response.status_code == 403 and "echo-me" not in response.text
        assert wechat_plain.post_xml(build_text("o-old", "gh", "帮助"), timestamp=ts).status_code == 403


@pytest.mark.parametrize("ts", ["²³", "١٧٩٥٣٩٩٢٠٠", "1795399200.0", "-1795399200", " 1795399200", "0x6b0"])
def test_odd_timestamps_signed_correctly(
    ts: str,
    wechat: WeChatCallbackClient,
    wechat_plain: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
) -> None:
    """A timestamp that is not ASCII digits, even with a valid signature over it, gets 400 (was a 500)."""
    xml = build_text("o-ts", "gh", "帮助")
    for client in (wechat, wechat_plain, wecom):
        assert client.post_xml(xml, timestamp=ts).status_code == 400
    assert wechat.verify_url("e", timestamp=ts).status_code == 400
    assert wecom.verify_url("e", timestamp=ts).status_code == 400
    assert nothing_stored(factory)


# --- fields no real server sends, correctly signed -------------------------------------------


@pytest.mark.parametrize(
    "sender",
    ['"\\ud800"', '"o-\\u0000x"', '"o-\\u000b"', '"\\ufffe"', '"' + "o" * 129 + '"'],
    ids=["lone-surrogate", "nul", "control", "noncharacter", "too-long"],
)
def test_unstorable_sender_refused(
    sender: str,
    wechat_plain: WeChatCallbackClient,
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
) -> None:
    """A sender no database or reply can carry (lone surrogate, NUL, other characters XML 1.0 has
    not, longer than the column), in the JSON format plain or encrypted, gets 400: it was a 500 (reply
    not encodable), a reply WeChat cannot parse, or on PostgreSQL a 503 (the row refused)."""
    doc = f'{{"ToUserName": "gh", "FromUserName": {sender}, "MsgType": "text", "Content": "帮助", "MsgId": "9"}}'
    assert wechat_plain.post_raw(doc, wechat_plain.signed_query(None, wechat_plain.timestamp(), "n")).status_code == 400
    assert wechat.post_xml(doc).status_code == 400
    assert wecom.post_xml(doc).status_code == 400
    for client in (wechat_plain, wechat, wecom):
        assert client.post_xml(build_text("u" * 129, "gh", "帮助")).status_code == 400
    assert nothing_stored(factory)


@pytest.mark.usefixtures("room")
def test_unstorable_photo_and_location_refused(wechat: WeChatCallbackClient, factory: sessionmaker[Session]) -> None:
    """Inside the propose dialog, a photo with an over-long URL or MediaId, or a NaN / out-of-range
    location, gets 400 and leaves the draft as it was; a very long place name is cut to fit."""
    user = "o-loc"
    talk(wechat, user, "提议题", "1", "楼道里的灯坏了很久，晚上上下楼很危险")
    before = stored_rows(factory)
    assert wechat.post_xml(image_xml(wechat, user, "http://x/" + "a" * 600, "m")).status_code == 400
    assert wechat.post_xml(image_xml(wechat, user, "http://x/1.jpg", "m" * 201)).status_code == 400
    for x, y in (("nan", "121.5"), ("31.2", "inf"), ("91", "0"), ("0", "-180.5"), ("1e999", "0")):
        assert wechat.send_location(user, x, y, "幸福路").status_code == 400
    assert stored_rows(factory) == before
    assert "位置" in wechat.send_image(user, pic_url="http://img/1.jpg", media_id="media-1").content
    assert "电话" in wechat.send_location(user, 31.2, 121.5, label="路" * 300).content
    talk(wechat, user, "跳过", "确认")
    with factory() as session:
        proposal = session.scalars(select(Proposal)).one()
        assert proposal.location_label == "路" * 200


def image_xml(client: WeChatCallbackClient, user: str, pic_url: str, media_id: str) -> str:
    return build_image(user, client.to_user, pic_url, media_id, create_time=client.now())


# --- injection text through the real dialog ----------------------------------------------------

INJECTIONS = [
    "'); DROP TABLE proposals; --",
    '" OR 1=1 --',
    "1'; DELETE FROM people WHERE '1'='1",
    '<script>alert("x")</script><img src=x onerror=alert(1)>',
    "]]></Content><MsgType>event</MsgType><Content><![CDATA[",
    "%s %d {0} ${7*7} {{7*7}} \\x00 \\' &amp; &lt;b&gt;",
]


@pytest.mark.usefixtures("room")
@pytest.mark.parametrize("text", INJECTIONS, ids=range(len(INJECTIONS)))
def test_injection_text_filed_verbatim(
    text: str, wechat: WeChatCallbackClient, engine: Any, factory: sessionmaker[Session]
) -> None:
    """SQL, HTML, CDATA-breaking and template text is filed through the real dialog: a receipt, the
    description stored verbatim, every table intact, and 我的 / the receipt show it literally."""
    tables = set(inspect(engine).get_table_names())
    user = "o-inject"
    replies = talk(wechat, user, "提议题", "1", text, "跳过", "跳过", "跳过")
    assert text in replies[-1]  # the summary to confirm quotes it as typed
    done = wechat.send_text(user, "确认").content
    assert "受理编号：YS-2026-" in done
    with factory() as session:
        proposal = session.scalars(select(Proposal)).one()
        assert proposal.description == text
        receipt = proposal.receipt or ""
    assert set(inspect(engine).get_table_names()) == tables
    assert count_rows(factory, Proposal) == 1
    mine = wechat.send_text(user, "我的").content
    assert f"{receipt} {shorten(text, 18)}" in mine
    assert f"内容：{text}" in wechat.send_text(user, receipt).content


@pytest.mark.parametrize("encoding", ["A", "base64", "rot13", "hex", "UTF-7", "idna", "GBK", "utf-16"])
def test_declared_encodings_in_the_envelope(
    encoding: str, wechat: WeChatCallbackClient, wecom: WeComCallbackClient, factory: sessionmaker[Session]
) -> None:
    """An envelope declaring an encoding that names no text codec (`base64`, `rot13`, junk) gets 400
    before any msg_signature is checked: it was a 500 (found by tests/test_fuzz.py)."""
    body = f'<?xml version="1.0" encoding="{encoding}"?><xml><Encrypt>QUJD</Encrypt></xml>'.encode()
    assert wecom.post_raw(
        body, {"msg_signature": "0" * 40, "timestamp": wecom.timestamp(), "nonce": "n"}
    ).status_code in (
        400,
        403,
    )
    assert wechat.post_raw(body, wechat.signed_query("QUJD", wechat.timestamp(), "n")).status_code == 400
    assert nothing_stored(factory)
