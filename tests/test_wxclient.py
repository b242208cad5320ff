"""Tests of the WeChat/WeCom callback harness itself: builders, signatures, crypto, requests, replies.

The crypto is checked against published sample vectors (official docs and sample code, wechatpy's
tests), hard-coded below and also read case by case from tests/data/wechat_crypto.json; the
request side is checked against wechatpy's own server-side crypto behind an httpx MockTransport.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from wechatpy import parse_message
from wechatpy.crypto import PrpCrypto
from wechatpy.crypto import WeChatCrypto as WechatpyOACrypto
from wechatpy.enterprise import parse_message as parse_wecom_message
from wechatpy.enterprise.crypto import WeChatCrypto as WechatpyWeComCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from tests.wxclient import (
    DEFAULT_WECHAT,
    DEFAULT_WECOM,
    Bare,
    CallbackCrypto,
    Reply,
    WeChatCallbackClient,
    WeComCallbackClient,
    build_event,
    build_image,
    build_location,
    build_raw,
    build_subscribe_msg_event,
    build_template_job_finished,
    build_text,
    build_voice,
    next_msg_id,
    parse_xml,
    sha1_signature,
)

DATA_FILE = Path(__file__).parent / "data" / "wechat_crypto.json"


def fixed_prefix(prefix: str) -> type[PrpCrypto]:
    """A PrpCrypto whose 16-byte random prefix is fixed, making encryption deterministic."""

    class FixedPrefixPrpCrypto(PrpCrypto):
        def get_random_string(self) -> str:
            return prefix

    return FixedPrefixPrpCrypto


# --------------------------------------------------------------------------------------------
# Published vectors, hard-coded (copied from the official samples; see tests/data/wechat_crypto.json)
# --------------------------------------------------------------------------------------------

DOC_TOKEN = "AAAAA"
DOC_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
DOC_APP_ID = "wxba5fad812f8e6fb9"
DOC_ENCRYPT = (
    "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDp"
    "VzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQ"
    "rKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mF"
    "UPAJGj04="
)
DOC_PLAINTEXT = (
    '{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY",'
    '"CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}'
)

WECOM_TOKEN = "QDG6eK"
WECOM_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
WECOM_CORP_ID = "wx5823bf96d3bd56c7"
WECOM_ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="


@pytest.mark.parametrize(
    ("token", "timestamp", "nonce", "expected"),
    [
        ("AAAAA", "1714036504", "1514711492", "f464b24fc39322e44b38aa78f5edd27bd1441696"),
        ("AAAAA", "1714037059", "486452656", "899cf89e464efb63f54ddac96b0a0a235f53aa78"),
        ("test", "1410685589", "test", "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"),
    ],
)
def test_plain_signature_matches_published_samples(token: str, timestamp: str, nonce: str, expected: str) -> None:
    """The plain `signature` helper reproduces the official and wechatpy sample signatures."""
    assert CallbackCrypto(token, None, "").signature(timestamp, nonce) == expected
    assert sha1_signature(nonce, token, timestamp) == expected  # order of the parts is irrelevant


def test_msg_signature_and_decrypt_match_official_safe_mode_post() -> None:
    """The doc's safe-mode POST verifies (both signatures) and decrypts to its published plaintext."""
    crypto = CallbackCrypto(DOC_TOKEN, DOC_KEY, DOC_APP_ID)
    assert crypto.msg_signature("1714112445", "415670741", DOC_ENCRYPT) == ("046e02f8204d34f8ba5fa3b1db94908f3df2e9b3")
    assert crypto.signature("1714112445", "415670741") == "6c5c811b55cc85e0e1b54100749188c20beb3f5d"
    assert crypto.decrypt(DOC_ENCRYPT) == DOC_PLAINTEXT


def test_encrypt_with_fixed_prefix_reproduces_official_ciphertext() -> None:
    """Encrypting the doc's plaintext with its random prefix gives back the doc's exact Encrypt."""
    crypto = CallbackCrypto(DOC_TOKEN, DOC_KEY, DOC_APP_ID, prp_class=fixed_prefix("a8eedb185eb2fecf"))
    assert crypto.encrypt(DOC_PLAINTEXT) == DOC_ENCRYPT


def test_encrypted_reply_reproduces_official_reply_vector() -> None:
    """The doc's encrypted reply example: same Encrypt and MsgSignature from the same inputs."""
    crypto = CallbackCrypto(DOC_TOKEN, DOC_KEY, DOC_APP_ID, prp_class=fixed_prefix("707722b803182950"))
    encrypt = crypto.encrypt('{"demo_resp":"good luck"}')
    assert encrypt == ("ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==")
    assert crypto.msg_signature("1713424427", "415670741", encrypt) == "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1"
    envelope = parse_xml(crypto.encrypted_reply('{"demo_resp":"good luck"}', "1713424427", "415670741"))
    assert envelope["Encrypt"] == encrypt
    assert envelope["MsgSignature"] == "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1"


def test_wecom_url_check_sample_verifies_and_decrypts() -> None:
    """The WeCom sample URL check: msg_signature over the encrypted echostr, then its plaintext."""
    crypto = CallbackCrypto(WECOM_TOKEN, WECOM_KEY, WECOM_CORP_ID)
    assert crypto.msg_signature("1409659589", "263014780", WECOM_ECHOSTR) == (
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
    )
    assert crypto.decrypt(WECOM_ECHOSTR) == "1616140317555161061"


def test_decrypt_rejects_the_wrong_receive_id() -> None:
    """A ciphertext meant for another AppID/CorpID is refused, like WeChat's own check."""
    with pytest.raises(ValueError, match="receive id"):
        CallbackCrypto(DOC_TOKEN, DOC_KEY, "wx0000000000000000").decrypt(DOC_ENCRYPT)


# --------------------------------------------------------------------------------------------
# Every case of the sample file
# --------------------------------------------------------------------------------------------


def _sample_cases() -> list[Any]:
    """One pytest param per (set, case) of tests/data/wechat_crypto.json."""
    if not DATA_FILE.exists():
        return [pytest.param(None, None, id="sample-file-missing")]
    doc = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return [
        pytest.param(sample_set, case, id=f"{sample_set['id']}-{i}-{case['kind']}")
        for sample_set in doc["sets"]
        for i, case in enumerate(sample_set["cases"])
    ]


@pytest.mark.parametrize(("sample_set", "case"), _sample_cases())
def test_sample_file_case(sample_set: dict[str, Any] | None, case: dict[str, Any] | None) -> None:
    """Each published case is reproduced by the harness's signing and crypto."""
    if sample_set is None or case is None:
        pytest.fail(f"{DATA_FILE} is missing (note: .gitignore's `data/` also matches tests/data/)")
    receive_id = sample_set.get("app_id") or sample_set.get("corp_id") or ""
    key = sample_set.get("encoding_aes_key")
    ts, nonce = case["timestamp"], case["nonce"]
    crypto = CallbackCrypto(sample_set["token"], key, receive_id)
    if "signature" in case:
        assert crypto.signature(ts, nonce) == case["signature"]
    kind = case["kind"]
    if kind == "url_verify_encrypted":
        assert crypto.msg_signature(ts, nonce, case["echostr"]) == case["msg_signature"]
        assert crypto.decrypt(case["echostr"]) == case["expected_echostr"]
    elif kind == "decrypt":
        assert crypto.msg_signature(ts, nonce, case["encrypt"]) == case["msg_signature"]
        assert crypto.decrypt(case["encrypt"]) == case["expected_plaintext"]
        if "post_body" in case:
            assert parse_xml(case["post_body"])["Encrypt"] == case["encrypt"]
        if "random" in case:
            fixed = CallbackCrypto(sample_set["token"], key, receive_id, fixed_prefix(case["random"]))
            assert fixed.encrypt(case["expected_plaintext"]) == case["encrypt"]
    elif kind == "encrypt":
        fixed = CallbackCrypto(sample_set["token"], key, receive_id, fixed_prefix(case["random"]))
        encrypt = fixed.encrypt(case["plaintext"])
        assert encrypt == case["expected_encrypt"]
        assert fixed.msg_signature(ts, nonce, encrypt) == case["expected_msg_signature"]
        assert crypto.decrypt(encrypt) == case["plaintext"]
    else:
        assert kind in {"url_verify_plain", "signature"}, f"unknown case kind {kind!r}"
        assert "signature" in case


# --------------------------------------------------------------------------------------------
# Crypto round trips and validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", [DEFAULT_WECHAT, DEFAULT_WECOM], ids=["wechat", "wecom"])
@pytest.mark.parametrize("text", ["", "hi", "中文 ]]> <xml>&amp;", "x" * 1000, "  spaced\n"])
def test_encrypt_then_decrypt_returns_the_original(config: dict[str, str], text: str) -> None:
    """Encrypt-then-decrypt with the default suite keys is the identity, whatever the text."""
    receive_id = config.get("app_id") or config["corp_id"]
    crypto = CallbackCrypto(config["token"], config["encoding_aes_key"], receive_id)
    encrypt = crypto.encrypt(text)
    assert len(base64.b64decode(encrypt)) % 32 == 0
    assert crypto.decrypt(encrypt) == text


def test_encrypted_reply_round_trip_through_the_client() -> None:
    """An envelope made by encrypted_reply passes the client's MsgSignature check and decrypts."""
    client = WeChatCallbackClient(_NoHttp(), **DEFAULT_WECHAT)
    plaintext = build_text("gh_test", "o_user", "  回复 ]]> ok \n")
    reply = client.parse_reply(_Resp(200, client.crypto.encrypted_reply(plaintext, "1700000000", "42")))
    assert reply.content == "  回复 ]]> ok \n"
    assert (reply.msg_type, reply.to_user, reply.from_user) == ("text", "o_user", "gh_test")
    assert reply.plaintext == plaintext
    assert not reply.is_empty and reply.ok


def test_default_configs_are_valid_and_distinct() -> None:
    """The suite-wide credentials are usable keys, distinct per platform, with realistic ids."""
    assert len(DEFAULT_WECHAT["encoding_aes_key"]) == len(DEFAULT_WECOM["encoding_aes_key"]) == 43
    assert DEFAULT_WECHAT["encoding_aes_key"] != DEFAULT_WECOM["encoding_aes_key"]
    assert DEFAULT_WECHAT["token"] != DEFAULT_WECOM["token"]
    assert DEFAULT_WECHAT["app_id"].startswith("wx") and DEFAULT_WECOM["corp_id"].startswith("ww")
    WechatpyOACrypto(DEFAULT_WECHAT["token"], DEFAULT_WECHAT["encoding_aes_key"], DEFAULT_WECHAT["app_id"])
    WechatpyWeComCrypto(DEFAULT_WECOM["token"], DEFAULT_WECOM["encoding_aes_key"], DEFAULT_WECOM["corp_id"])


@pytest.mark.parametrize("bad_key", ["short", "!" * 43, "A" * 44])
def test_invalid_encoding_aes_key_is_refused(bad_key: str) -> None:
    """A key that is not 43 base64 characters fails loudly at construction."""
    with pytest.raises(ValueError, match="EncodingAESKey"):
        CallbackCrypto("t", bad_key, "wx1")


def test_decrypt_refuses_garbage_and_plain_mode_cannot_encrypt() -> None:
    """Corrupt ciphertext raises ValueError (not a stray struct/unicode error); plain mode has no AES."""
    crypto = CallbackCrypto(DOC_TOKEN, DOC_KEY, DOC_APP_ID)
    for garbage in ["not base64!", "", "QUJD", DOC_ENCRYPT[:-24] + "A" * 22 + "=="]:
        with pytest.raises(ValueError):
            crypto.decrypt(garbage)
    with pytest.raises(ValueError, match="plain mode"):
        CallbackCrypto("t", None, "").encrypt("x")
    with pytest.raises(ValueError, match="AppID"):
        WeChatCallbackClient(_NoHttp(), token="t", encoding_aes_key=DOC_KEY)


# --------------------------------------------------------------------------------------------
# XML builders
# --------------------------------------------------------------------------------------------


def test_build_text_is_read_by_wechatpy_like_a_real_message() -> None:
    """wechatpy parses a built text message into the same fields, `]]>` and Chinese included."""
    xml = build_text("o_user", "gh_test", "你好 ]]> <b>&", msg_id=123, create_time=1700000000)
    msg = parse_message(xml)
    assert (msg.type, msg.source, msg.target, msg.content) == ("text", "o_user", "gh_test", "你好 ]]> <b>&")
    assert (msg.id, msg.create_time.timestamp()) == (123, 1700000000)
    assert "<MsgId>123</MsgId>" in xml and "<CreateTime>1700000000</CreateTime>" in xml


def test_builders_default_msg_id_and_create_time() -> None:
    """Without explicit values, MsgId increases per message and CreateTime is now."""
    before = int(time.time())
    first, second = (parse_xml(build_text("u", "gh", "x")) for _ in range(2))
    assert int(second["MsgId"]) > int(first["MsgId"])
    assert before <= int(first["CreateTime"]) <= before + 5


def test_msg_ids_are_unique_and_increasing_across_threads() -> None:
    """The MsgId counter hands out distinct, per-thread increasing ids under concurrency."""
    results: list[list[int]] = [[] for _ in range(8)]

    def grab(out: list[int]) -> None:
        out.extend(next_msg_id() for _ in range(500))

    threads = [threading.Thread(target=grab, args=(out,)) for out in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [i for out in results for i in out]
    assert len(set(flat)) == len(flat) == 4000
    assert all(out == sorted(out) for out in results)


def test_wecom_builders_carry_agent_id() -> None:
    """With agent_id, the message has a bare <AgentID> that wechatpy's WeCom parser reads."""
    xml = build_text("zhangsan", "ww1234567890abcdef", "hi", agent_id="1000002")
    assert "<AgentID>1000002</AgentID>" in xml
    msg = parse_wecom_message(xml)
    assert (msg.agent, msg.content, msg.source) == (1000002, "hi", "zhangsan")
    assert "AgentID" not in build_text("u", "gh", "hi")


def test_build_image_location_voice_event_fields() -> None:
    """Each typed builder emits the documented MsgType and fields, parsed back by wechatpy."""
    image = parse_message(build_image("u", "gh", "https://p/x.jpg", "m1", msg_id=1))
    assert (image.type, image.image, image.media_id) == ("image", "https://p/x.jpg", "m1")
    xml = build_location("u", "gh", 23.134521, 113.358803, "广州", msg_id=2)
    assert "<Location_X>23.134521</Location_X>" in xml and "<Scale>15</Scale>" in xml
    loc = parse_message(xml)
    assert (loc.type, loc.label, int(loc.scale)) == ("location", "广州", 15)
    assert tuple(map(float, loc.location)) == (23.134521, 113.358803)
    voice = parse_xml(build_voice("u", "gh", "v1", recognition="我要预约"))
    assert (voice["MsgType"], voice["Format"], voice["Recognition"]) == ("voice", "amr", "我要预约")
    assert "Recognition" not in parse_xml(build_voice("u", "gh", "v1"))
    click = parse_xml(build_event("u", "gh", "CLICK", "MENU_BOOK"))
    assert (click["MsgType"], click["Event"], click["EventKey"]) == ("event", "CLICK", "MENU_BOOK")
    subscribe = parse_xml(build_event("u", "gh", "subscribe"))
    assert "EventKey" not in subscribe and "MsgId" not in subscribe


def test_delivery_report_builders_match_the_documented_pushes() -> None:
    """TEMPLATESENDJOBFINISH carries MsgID and Status (wechatpy reads them); a subscription event nests its
    entries in <Container><List>, one <List> per template."""
    job = parse_message(build_template_job_finished("u", "gh", 200163836, "failed:user block"))
    assert (job.type, job.event, job.id, job.status) == (
        "event",
        "templatesendjobfinish",
        200163836,
        "failed:user block",
    )
    items = [
        {"TemplateId": "t1", "SubscribeStatusString": "accept", "PopupScene": Bare("2")},
        {"TemplateId": "t2", "SubscribeStatusString": "reject", "PopupScene": Bare("2")},
    ]
    popup = parse_xml(build_subscribe_msg_event("u", "gh", "subscribe_msg_popup_event", items))
    assert popup["Event"] == "subscribe_msg_popup_event"
    assert popup["SubscribeMsgPopupEvent"]["List"] == [
        {"TemplateId": "t1", "SubscribeStatusString": "accept", "PopupScene": "2"},
        {"TemplateId": "t2", "SubscribeStatusString": "reject", "PopupScene": "2"},
    ]


def test_build_raw_renders_nested_lists_bare_and_skips_none() -> None:
    """build_raw handles unknown types: nested mappings, repeated elements, Bare text, None left out."""
    xml = build_raw(
        {
            "ToUserName": "gh",
            "MsgType": "mystery",
            "CreateTime": 5,
            "Skip": None,
            "Info": {"Count": 2, "Item": [{"Md5": "a"}, {"Md5": "b"}]},
            "Flag": Bare("1 < 2"),
        }
    )
    assert xml.startswith("<xml><ToUserName><![CDATA[gh]]></ToUserName>") and "Skip" not in xml
    assert "<Flag>1 &lt; 2</Flag>" in xml
    fields = parse_xml(xml)
    assert fields["Info"] == {"Count": "2", "Item": [{"Md5": "a"}, {"Md5": "b"}]}
    with pytest.raises(ValueError):
        build_raw({"bad tag": "x"})
    with pytest.raises(ValueError, match="root"):
        parse_xml("<root><A>1</A></root>")
    assert parse_xml("<xml/>") == {}
    with pytest.raises(TypeError):
        build_raw({"Flag": True})


# --------------------------------------------------------------------------------------------
# Requests against a fake server made of wechatpy's own server-side crypto
# --------------------------------------------------------------------------------------------


class _Resp:
    """A minimal response object for parse_reply tests."""

    def __init__(self, status_code: int, text: str) -> None:
        self.status_code = status_code
        self.text = text


class _NoHttp:
    """An http object for clients that must not send anything."""

    def get(self, url: str, /) -> Any:
        raise AssertionError("unexpected GET")

    def post(self, url: str, /, *, content: bytes, headers: dict[str, str]) -> Any:
        raise AssertionError("unexpected POST")


class FakeTencentApp:
    """An echo app validating requests with wechatpy (an independent implementation) via httpx."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.oa = WechatpyOACrypto(**DEFAULT_WECHAT)
        self.wecom = WechatpyWeComCrypto(**DEFAULT_WECOM)
        self.http = httpx.Client(transport=httpx.MockTransport(self.handle), base_url="http://app.test")

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert b"+" not in request.url.query, request.url.query
        q = request.url.params
        ts, nonce = q["timestamp"], q["nonce"]
        try:
            if request.url.path == "/wechat":
                check_signature(DEFAULT_WECHAT["token"], q["signature"], ts, nonce)
                if request.method == "GET":
                    return httpx.Response(200, text=q["echostr"])
                aes = q.get("encrypt_type") == "aes"
                body = request.content
                if aes:
                    body = self.oa.decrypt_message(body, q["msg_signature"], ts, nonce)
                msg = parse_message(body)
                assert q["openid"] == msg.source
                reply = self._reply(msg)
                if aes and reply not in ("", "success"):
                    reply = self.oa.encrypt_message(reply, nonce, ts)
                return httpx.Response(200, text=reply)
            if request.method == "GET":
                echo = self.wecom.check_signature(q["msg_signature"], ts, nonce, q["echostr"])
                return httpx.Response(200, text=echo)
            msg = parse_wecom_message(self.wecom.decrypt_message(request.content, q["msg_signature"], ts, nonce))
            assert msg.agent == 1000002
            reply = self._reply(msg)
            return httpx.Response(200, text=self.wecom.encrypt_message(reply, nonce, ts) if reply else "")
        except InvalidSignatureException:
            return httpx.Response(403, text="bad signature")

    @staticmethod
    def _reply(msg: Any) -> str:
        if msg.type == "text":
            return str(TextReply(content="echo:" + msg.content, message=msg).render())
        if msg.type == "event" and msg.event == "click":
            return str(TextReply(content="clicked:" + msg.key, message=msg).render())
        return "success" if msg.type == "event" else ""


@pytest.fixture
def app() -> FakeTencentApp:
    """A fresh fake app per test."""
    return FakeTencentApp()


class FakeClock:
    """A fixed clock with the `.now() -> datetime` shape of the app's clock objects."""

    def now(self) -> datetime:
        return datetime.fromtimestamp(1409659813, UTC)


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
def test_wechat_round_trip_through_httpx(app: FakeTencentApp, safe: bool) -> None:
    """Text, click and subscribe go through httpx in both modes and the replies come back checked."""
    config: dict[str, Any] = dict(DEFAULT_WECHAT) if safe else {"token": DEFAULT_WECHAT["token"]}
    client = WeChatCallbackClient(app.http, **config)
    assert client.verify_url("4375120948345356249").text == "4375120948345356249"
    reply = client.send_text("o_user", "你好 <b>&")
    assert isinstance(reply, Reply)
    assert (reply.status_code, reply.content, reply.msg_type) == (200, "echo:你好 <b>&", "text")
    assert (reply.to_user, reply.from_user) == ("o_user", "gh_test")
    assert client.click("o_user", "MENU_BOOK").content == "clicked:MENU_BOOK"
    assert client.send_event("o_user", "subscribe").is_empty
    assert client.send_image("o_user").is_empty
    post = app.requests[-1]
    assert post.headers["content-type"] == "text/xml"
    assert ("encrypt_type" in post.url.params) is safe
    if safe:
        assert parse_xml(post.content)["ToUserName"] == "gh_test"
        assert "MsgType" not in parse_xml(post.content)


def test_wecom_round_trip_through_httpx(app: FakeTencentApp) -> None:
    """The WeCom URL check answers the echostr plaintext and messages round-trip encrypted."""
    client = WeComCallbackClient(app.http, **DEFAULT_WECOM)
    assert client.verify_url("1616140317555161061").text == "1616140317555161061"
    reply = client.send_text("zhangsan", "预约")
    assert (reply.content, reply.to_user, reply.from_user) == ("echo:预约", "zhangsan", "ww1234567890abcdef")
    assert client.send_location("zhangsan", 23.1, 113.3, "广州").is_empty
    body = parse_xml(app.requests[-1].content)
    assert (body["ToUserName"], body["AgentID"]) == ("ww1234567890abcdef", "1000002")


@pytest.mark.parametrize("tamper", ["signature", "msg_signature"])
def test_tampered_signatures_are_rejected_by_the_server(app: FakeTencentApp, tamper: str) -> None:
    """tamper= forges exactly the named signature, so a checking server answers 403."""
    client = WeChatCallbackClient(app.http, **DEFAULT_WECHAT)
    assert client.post_xml(build_text("o_user", "gh_test", "x"), tamper=tamper).status_code == 403
    assert client.post_xml(build_text("o_user", "gh_test", "x")).status_code == 200
    wecom = WeComCallbackClient(app.http, **DEFAULT_WECOM)
    assert wecom.post_xml(build_text("u", "ww1234567890abcdef", "x"), tamper="msg_signature").status_code == 403
    assert wecom.verify_url("1", tamper="msg_signature").status_code == 403


def test_invalid_tamper_requests_fail_fast() -> None:
    """Unknown tamper names, and msg_signature in plain mode, raise instead of silently passing."""
    plain = WeChatCallbackClient(_NoHttp(), token="t")
    with pytest.raises(ValueError):
        plain.post_xml("<xml/>", tamper="msg_signature")
    with pytest.raises(ValueError):
        plain.post_xml("<xml/>", tamper="timestamp")
    with pytest.raises(ValueError):
        WeComCallbackClient(_NoHttp(), **DEFAULT_WECOM).post_xml("<xml/>", tamper="signature")


def test_query_values_are_percent_encoded() -> None:
    """Base64 `+`, `/` and `=` travel as %2B, %2F and %3D and decode back unchanged."""
    client = WeComCallbackClient(_NoHttp(), **DEFAULT_WECOM)
    url = client.url({"echostr": WECOM_ECHOSTR, "nonce": "1 2"})
    query = urlsplit(url).query
    assert "+" not in query and "%2B" in query and "%2F" in query and "%3D" in query
    assert parse_qs(query)["echostr"] == [WECOM_ECHOSTR]
    assert parse_qs(query)["nonce"] == ["1 2"]


def test_wecom_verify_url_sends_an_encrypted_echostr_with_plus(app: FakeTencentApp) -> None:
    """An echostr whose ciphertext contains `+` still reaches the server intact (fixed prefix)."""
    client = WeComCallbackClient(app.http, **DEFAULT_WECOM, prp_class=fixed_prefix("0123456789abcdef"))
    echo = next(str(n) for n in range(1000) if "+" in client.crypto.encrypt(str(n)))
    assert client.verify_url(echo).text == echo
    assert b"%2B" in app.requests[-1].url.query


def test_clock_drives_timestamp_and_create_time(app: FakeTencentApp) -> None:
    """Requests are signed with the injected clock's time, a callable or a `.now()` object."""
    for clock in (lambda: 1409659813.9, FakeClock()):
        client = WeChatCallbackClient(app.http, **DEFAULT_WECHAT, clock=clock)
        client.send_text("o_user", "hi")
        request = app.requests[-1]
        assert request.url.params["timestamp"] == "1409659813"
        plaintext = app.oa.decrypt_message(
            request.content, request.url.params["msg_signature"], "1409659813", request.url.params["nonce"]
        )
        assert parse_xml(plaintext)["CreateTime"] == "1409659813"


def test_signed_query_helpers_allow_hand_made_requests(app: FakeTencentApp) -> None:
    """signed_query/verify_query plus post_raw/get_raw build valid requests with chosen values."""
    oa = WeChatCallbackClient(app.http, **DEFAULT_WECHAT)
    plain_query = oa.signed_query(None, "1700000000", "n1")
    assert set(plain_query) == {"signature", "timestamp", "nonce"}
    encrypt = oa.crypto.encrypt(build_text("o_user", "gh_test", "old"))
    query = oa.signed_query(encrypt, "1700000000", "n1", openid="o_user")
    assert query["encrypt_type"] == "aes" and query["openid"] == "o_user"
    reply = oa.parse_reply(oa.post_raw(oa.envelope(encrypt), query))
    assert reply.content == "echo:old"
    assert oa.get_raw(oa.verify_query("e1", "1700000000", "n2")).text == "e1"
    wecom = WeComCallbackClient(app.http, **DEFAULT_WECOM)
    with pytest.raises(ValueError):
        wecom.signed_query(None, "1700000000", "n1")
    assert set(wecom.signed_query("abc", "1", "2")) == {"msg_signature", "timestamp", "nonce"}


# --------------------------------------------------------------------------------------------
# Reply checking
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["", "success"])
@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
def test_success_and_empty_mean_no_reply_in_both_modes(body: str, safe: bool) -> None:
    """An empty body and "success" both mean "no passive reply", in plain and in safe mode."""
    config: dict[str, Any] = dict(DEFAULT_WECHAT) if safe else {"token": "t"}
    reply = WeChatCallbackClient(_NoHttp(), **config).parse_reply(_Resp(200, body))
    assert reply.is_empty and reply.content == "" and reply.msg_type == "" and reply.raw == body


def test_reply_with_forged_msg_signature_raises() -> None:
    """A reply whose MsgSignature does not match is an AssertionError, as WeChat would refuse it."""
    client = WeChatCallbackClient(_NoHttp(), **DEFAULT_WECHAT)
    good = client.crypto.encrypted_reply(build_text("gh_test", "o_user", "x"), "1700000000", "7")
    sig = parse_xml(good)["MsgSignature"]
    forged = good.replace(sig, "0" * 40)
    with pytest.raises(AssertionError, match="MsgSignature"):
        client.parse_reply(_Resp(200, forged))


def test_reply_encrypted_for_another_app_raises() -> None:
    """A correctly signed reply encrypted with another receive id fails decryption checks."""
    client = WeChatCallbackClient(_NoHttp(), **DEFAULT_WECHAT)
    other = CallbackCrypto(DEFAULT_WECHAT["token"], DEFAULT_WECHAT["encoding_aes_key"], "wx_other")
    body = other.encrypted_reply(build_text("gh_test", "o_user", "x"), "1700000000", "7")
    with pytest.raises(AssertionError, match="decrypt"):
        client.parse_reply(_Resp(200, body))


def test_plaintext_reply_in_safe_mode_and_junk_raise() -> None:
    """Safe mode demands an encrypted envelope; any mode demands XML with a MsgType."""
    safe = WeChatCallbackClient(_NoHttp(), **DEFAULT_WECHAT)
    with pytest.raises(AssertionError, match="lacks"):
        safe.parse_reply(_Resp(200, build_text("gh_test", "o_user", "x")))
    plain = WeChatCallbackClient(_NoHttp(), token="t")
    with pytest.raises(AssertionError, match="not WeChat XML"):
        plain.parse_reply(_Resp(200, "hello"))
    with pytest.raises(AssertionError, match="MsgType"):
        plain.parse_reply(_Resp(200, "<xml><Content>x</Content></xml>"))
    with pytest.raises(AssertionError, match="plain mode"):
        plain.parse_reply(_Resp(200, safe.crypto.encrypted_reply("<xml/>", "1", "2")))


def test_non_200_replies_are_not_parsed() -> None:
    """An error status keeps its body in raw, is not ok, and is not mistaken for an empty reply."""
    reply = WeChatCallbackClient(_NoHttp(), **DEFAULT_WECHAT).parse_reply(_Resp(403, "forbidden"))
    assert (reply.status_code, reply.raw, reply.content, reply.is_empty, reply.ok) == (
        403,
        "forbidden",
        "",
        False,
        False,
    )
