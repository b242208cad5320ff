"""Property-based fuzzing of the callback endpoints (/wechat plain and safe mode, /wecom).

Over 10,000 generated requests in all: random bytes, near-valid WeChat XML with odd fields
(huge, empty, nested, repeated, CDATA tricks, other encodings, mutations), random / truncated /
other-body signatures, and query strings with missing, duplicated, huge or oddly encoded
parameters and timestamps far off or not numbers. What must hold for every one of them:

- never a 5xx, and nothing logged as an error (a crash the reply runner swallowed);
- without a valid signature, nothing is stored (rows counted after every case);
- with a valid signature over hostile content, a 2xx or 4xx; a 4xx changes nothing, and a reply
  in safe mode verifies and decrypts like WeChat would check it.
"""

from __future__ import annotations

import json
import logging
import operator
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services.rooms import create_room
from storage.db import transaction
from storage.models import DialogState, OutboxMessage, Person, ProcessedMessage, Proposal, RoomLevel, Suggestion
from tests.wxclient import (
    DEFAULT_WECHAT,
    DEFAULT_WECOM,
    WeChatCallbackClient,
    WeComCallbackClient,
    sha1_signature,
)

STORED = (Person, ProcessedMessage, Proposal, Suggestion, DialogState, OutboxMessage)
MODES = ("plain", "aes", "wecom")  # /wechat plaintext, /wechat safe mode, /wecom

# Examples per property; they add up to 10,500.
RANDOM_BYTES = 1500
UNSIGNED_XML = 2000
QUERIES = 2500
SIGNED_XML = 3000
SIGNED_GARBAGE = 1500


def fuzz_settings(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,  # no .hypothesis/ directory; failures print a reproduce blob instead
        print_blob=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# --- the system under test -----------------------------------------------------------------------


@dataclass
class Response:
    status_code: int = 0
    body: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Target:
    """The app behind the `client` fixture, with the platform's signing clients and a row counter."""

    http: TestClient
    factory: sessionmaker[Session]
    clock: FakeClock
    caplog: pytest.LogCaptureFixture

    def __post_init__(self) -> None:
        self.plain = WeChatCallbackClient(
            self.http, DEFAULT_WECHAT["token"], None, DEFAULT_WECHAT["app_id"], clock=self.clock
        )
        self.aes = WeChatCallbackClient(self.http, clock=self.clock, **DEFAULT_WECHAT)
        self.wecom = WeComCallbackClient(self.http, clock=self.clock, **DEFAULT_WECOM)
        self._count = select(*(select(func.count()).select_from(m).scalar_subquery() for m in STORED))
        self._errors_seen = 0

    def signer(self, mode: str) -> WeChatCallbackClient | WeComCallbackClient:
        signers: dict[str, WeChatCallbackClient | WeComCallbackClient] = {
            "plain": self.plain,
            "aes": self.aes,
            "wecom": self.wecom,
        }
        return signers[mode]

    def rows(self) -> tuple[int, ...]:
        """Rows in every table a message can write to, in one round trip."""
        with self.factory() as session:
            return tuple(session.execute(self._count).one())

    def request(self, method: str, path: str, query: str, body: bytes = b"") -> Response:
        """One request through the TestClient's portal, into the app it started.

        The ASGI message is built here rather than by httpx: that is a tenth of the cost per case,
        and lets any bytes reach the query string (httpx refuses control characters).
        """
        response = Response()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode("utf-8", "surrogateescape"),
            "headers": [
                (b"host", b"testserver"),
                (b"content-type", b"text/xml"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        pending = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return pending.pop() if pending else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                response.status_code = message["status"]
            elif message["type"] == "http.response.body":
                response.body += message.get("body", b"")

        portal = self.http.portal
        assert portal is not None, "the client fixture has started the app"
        app: Any = self.http.app
        portal.call(app, scope, receive, send)
        assert 100 <= response.status_code < 500, (response.status_code, response.text[:300])
        errors = [r for r in self.caplog.records[self._errors_seen :] if r.levelno >= logging.ERROR]
        self._errors_seen = len(self.caplog.records)
        assert not errors, [r.getMessage() for r in errors]
        return response


@pytest.fixture
def target(
    client: TestClient, factory: sessionmaker[Session], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> Target:
    with transaction(factory) as session:  # a room, so 提议题 and friends get somewhere
        create_room(session, name="幸福社区议事室", level=RoomLevel.village)
    caplog.set_level(logging.ERROR)
    return Target(client, factory, clock, caplog)


NOTHING = (0, 0, 0, 0, 0, 0)

# --- strategies ------------------------------------------------------------------------------
# Every strategy is built once, here: building strategies inside a draw costs Hypothesis more than
# the request itself.

USERS = ["o-fuzz-1", "o-fuzz-2", "zhang", "o-fuzz-<&>", "o-]]>-x"]
MSG_TYPES = ["text", "image", "voice", "location", "event", "video", "shortvideo", "link", "file", "TEXT", "Event"]
EVENTS = ["subscribe", "unsubscribe", "CLICK", "VIEW", "SCAN", "LOCATION", "enter_agent", "TEMPLATESENDJOBFINISH"]
WORDS = [
    "提议题", "微建言", "我的", "帮助", "确认", "取消", "跳过", "返回", "继续", "1", "0", "绑定 ABC123", "待审",
    "新建协商", "广播", "YS-2026-000001", "JY-2026-000001", "附议 YS-2026-000001", "参加", "请假",
]  # fmt: skip
MENU_KEYS = ["PROPOSE", "MINE", "SUGGEST", "HELP", "unknown", ""]
TAGS = [
    "ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event", "EventKey", "MediaId",
    "PicUrl", "Location_X", "Location_Y", "Scale", "Label", "Recognition", "Format", "AgentID", "Encrypt",
    "MsgSignature", "TimeStamp", "Nonce", "ThumbMediaId", "Url",
]  # fmt: skip
CORE = ["ToUserName", "FromUserName", "CreateTime", "MsgType"]

# Unicode with the characters XML and databases care about well represented.
odd_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from("<>&'\"]]>![CDATA\x00\x0b\ufffe\ud800\u202e\u3000\t\r\n%;#x"), max_size=30),
    st.sampled_from(
        [*WORDS, *USERS, "]]>", "]]]]><![CDATA[>", "&amp;", "&lt;", "&#0;", "&#x1F600;", "&#xD800;", "&nosuch;",
         "<![CDATA[", "'); DROP TABLE proposals; --", "<script>x</script>"]
    ),
)  # fmt: skip
huge_text = st.builds(operator.mul, st.sampled_from(["A", "长", "<", "&amp;", "]]>", " "]), st.integers(0, 70_000))
numberish = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats().map(str),
    st.sampled_from(["", " 1", "1e999", "nan", "-inf", "0x10", "²", "١٢", "1_000", "9" * 5000, "31.2", "121.5"]),
)
PLAUSIBLE: dict[str, st.SearchStrategy[str]] = {
    "ToUserName": st.sampled_from(["gh_test", DEFAULT_WECOM["corp_id"], ""]),
    "FromUserName": st.sampled_from(USERS),
    "MsgType": st.sampled_from(MSG_TYPES),
    "Event": st.sampled_from(EVENTS),
    "EventKey": st.sampled_from(MENU_KEYS),
    "Content": st.sampled_from(WORDS),
    "CreateTime": st.just("1795399200"),
    "MsgId": st.integers(1, 50).map(str),
}
# Mostly plausible values for a tag, often odd ones.
VALUES = {
    tag: st.one_of(*[PLAUSIBLE.get(tag, st.text(max_size=10))] * 3, odd_text, numberish, huge_text) for tag in TAGS
}
STYLES = st.sampled_from(
    ["cdata", "cdata", "escaped", "raw", "empty", "selfclose", "nested", "split-cdata", "attr", "ns", "comment", "pi",
     "unclosed", "entity"]
)  # fmt: skip
ENTITY_REFS = st.sampled_from(["lol", "xxe", "amp", "#0", "#x41", "#65", "#xFFFF", "#1114112", ""])
EXTRA_TAGS = st.lists(st.sampled_from(TAGS), max_size=6)
ROOTS = st.sampled_from(["xml", "xml", "xml", "XML", "root", "xml xmlns='urn:x'"])
PROLOGS = st.sampled_from(
    ["", "", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8"?>\n', "\ufeff", "   \n",
     '<?xml version="1.1"?>', "<!-- hi -->"]
)  # fmt: skip
WRAPS = st.sampled_from(["one", "one", "one", "twice", "deep", "json"])
DEPTHS = st.integers(1, 3000)
DICE = st.integers(0, 9)
SHUFFLE = st.randoms(use_true_random=False)
ENCODINGS = st.sampled_from(["utf-8"] * 6 + ["utf-16", "utf-16-be", "gbk", "latin-1", "utf-32", "utf-8-sig"])
MUTATIONS = st.lists(
    st.tuples(st.sampled_from(["truncate", "insert", "duplicate", "drop", "flip"]), st.integers(0, 2**20),
              st.binary(min_size=1, max_size=8)),
    max_size=2,
)  # fmt: skip


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_element(tag: str, value: str, style: str, entity: str) -> str:
    """One field, written any of the ways XML allows, and a few it does not."""
    half = len(value) // 2
    inner = {
        "cdata": f"<![CDATA[{value.replace(']]>', ']]]]><![CDATA[>')}]]>",
        "escaped": xml_escape(value),
        "raw": value,  # not escaped: may break the document
        "empty": "",
        "selfclose": "",
        "nested": f"<a><b>{xml_escape(value)}</b><b/><c x='1'>{xml_escape(value)}</c></a>",
        "split-cdata": f"<![CDATA[{value[:half]}]]><![CDATA[{value[half:]}]]>",
        "attr": xml_escape(value),
        "ns": xml_escape(value),
        "comment": f"<!--{value.replace('--', '')}-->{xml_escape(value)}",
        "pi": f"<?pi {value.replace('?>', '')}?>{xml_escape(value)}",
        "unclosed": f"<![CDATA[{value}",
        "entity": f"&{entity};",
    }[style]
    if style == "selfclose":
        return f"<{tag}/>"
    if style == "attr":
        return f"<{tag} a=\"{xml_escape(value)}\" b='&amp;'>{inner}</{tag}>"
    if style == "ns":
        return f'<x:{tag} xmlns:x="urn:x">{inner}</x:{tag}>'
    return f"<{tag}>{inner}</{tag}>"


@st.composite
def near_valid_xml(draw: st.DrawFn) -> str:
    """A WeChat message document: the usual fields (or others, repeated, missing) in any order,
    any root, prolog and nesting depth; or the same fields as the JSON push format."""
    chosen = CORE + draw(EXTRA_TAGS)
    if draw(DICE) < 4:
        draw(SHUFFLE).shuffle(chosen)
    chosen = [t for t in chosen if draw(DICE)]  # now and then a field goes missing
    values = {t: draw(VALUES[t]) for t in chosen}
    wrap = draw(WRAPS)
    if wrap == "json":
        return json.dumps(values, ensure_ascii=draw(st.booleans()))
    fields = "".join(render_element(t, values[t], draw(STYLES), draw(ENTITY_REFS)) for t in chosen)
    root, prolog = draw(ROOTS), draw(PROLOGS)
    close = root.split()[0]
    if wrap == "twice":
        return f"{prolog}<{root}>{fields}</{close}><{root}>{fields}</{close}>"
    if wrap == "deep":
        depth = draw(DEPTHS)
        return f"{prolog}<{root}>{'<d>' * depth}{fields}{'</d>' * depth}</{close}>"
    return f"{prolog}<{root}>{fields}</{close}>"


def mutate(raw: bytes, mutations: list[tuple[str, int, bytes]]) -> bytes:
    """Truncate, splice bytes in, duplicate or drop a slice, flip a bit."""
    for op, where, junk in mutations:
        at = where % (len(raw) + 1)
        if op == "truncate":
            raw = raw[:at]
        elif op == "insert":
            raw = raw[:at] + junk + raw[at:]
        elif op == "duplicate":
            raw = raw[:at] + raw[at : at + 64] + raw[at:]
        elif op == "drop":
            raw = raw[:at] + raw[at + 1 + where % 16 :]
        elif at < len(raw):
            raw = raw[:at] + bytes([raw[at] ^ (1 << where % 8)]) + raw[at + 1 :]
    return raw


@st.composite
def encoded_xml(draw: st.DrawFn) -> bytes:
    """A document as bytes: UTF-8 mostly, else another encoding (declared or not), maybe mangled."""
    doc = draw(near_valid_xml())
    encoding = draw(ENCODINGS)
    if encoding != "utf-8" and draw(st.booleans()):
        doc = f'<?xml version="1.0" encoding="{encoding.upper()}"?>' + doc
    raw = doc.encode(encoding, errors="replace") if encoding != "utf-8" else doc.encode("utf-8", "surrogatepass")
    return mutate(raw, draw(MUTATIONS))


hostile_bodies = st.one_of(
    st.binary(max_size=300),
    st.builds(operator.mul, st.binary(min_size=1, max_size=4), st.integers(0, 80_000)),
    encoded_xml(),
)


def percent(text: str) -> str:
    return quote(text, safe="", errors="surrogatepass")


odd_param = st.one_of(
    st.text(max_size=30).map(percent),
    st.text(max_size=30),  # raw: spaces, non-ASCII, control characters as they come
    st.binary(max_size=20).map(lambda b: "".join(f"%{x:02X}" for x in b)),  # invalid UTF-8, %00
    st.text(alphabet="%+=&;#?/ ", max_size=12),  # raw separators and broken escapes
    st.builds(operator.mul, st.just("9"), st.integers(0, 20_000)),
)
# How to get a signature wrong: (kind, a number for it, junk for it).
BAD_SIGNATURES = st.tuples(
    st.sampled_from(["random", "truncated", "off-by-one", "other-token", "junk", "upper-other"]),
    st.integers(0, 39),
    st.one_of(st.text(alphabet="0123456789abcdef", min_size=40, max_size=40), odd_param),
)


def wrong_signature(right: str, recipe: tuple[str, int, str]) -> str:
    """Anything but `right`: random hex, truncated, one digit off, another token's, or junk."""
    kind, n, junk = recipe
    wrong = {
        "random": junk,
        "junk": junk,
        "truncated": right[:n],
        "off-by-one": right[:n] + ("0" if right[n] != "0" else "1") + right[n + 1 :],
        "other-token": sha1_signature("other-token", "1", "2"),
        "upper-other": sha1_signature("x", junk).upper(),
    }[kind]
    return wrong if wrong.lower() != right else "0" * 40


def render_query(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in params)


def timestamps(now: int) -> st.SearchStrategy[str]:
    """Fresh, far past or future, or not a plain number at all."""
    return st.one_of(
        st.integers(-400, 400).map(lambda d: str(now + d)),
        st.integers(-(10**13), 10**13).map(str),
        st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=12),
        st.sampled_from(["", "0", "²", "١٧٩٥٣٩٩٢٠٠", f"{now}.0", f" {now}", f"{now} ", f"+{now}", "NaN"]),
        st.text(max_size=12),
    )


# --- properties --------------------------------------------------------------------------------

PARAM_NAMES = ["signature", "msg_signature", "timestamp", "nonce", "echostr", "encrypt_type", "openid"]


def signed_url(query: dict[str, str]) -> str:
    return render_query([(k, percent(v)) for k, v in query.items()])


def test_random_bytes_unsigned(target: Target) -> None:
    """Random bytes (short, huge) to every endpoint with no or junk parameters: 4xx, nothing stored."""
    ran = 0

    @fuzz_settings(RANDOM_BYTES)
    @given(
        path=st.sampled_from(["/wechat", "/wecom"]),
        method=st.sampled_from(["GET", "POST", "POST"]),
        query=st.one_of(
            st.just(""),
            st.lists(st.tuples(st.sampled_from([*PARAM_NAMES, "x"]), odd_param), max_size=6).map(render_query),
        ),
        body=st.one_of(st.binary(max_size=200), st.builds(operator.mul, st.just(b"\x00"), st.integers(0, 70_000))),
    )
    def case(path: str, method: str, query: str, body: bytes) -> None:
        nonlocal ran
        ran += 1
        response = target.request(method, path, query, body)
        assert 400 <= response.status_code < 500
        assert target.rows() == NOTHING

    case()
    assert ran >= RANDOM_BYTES


def test_hostile_xml_without_a_valid_signature(target: Target) -> None:
    """Near-valid and hostile XML, signed wrongly (random, truncated, off by one, another token's,
    right for another body): 4xx and nothing stored, on every channel."""
    ran = 0
    ts, nonce = str(int(target.clock.now().timestamp())), "n0nce"
    right_plain = sha1_signature(DEFAULT_WECHAT["token"], ts, nonce)
    others = {m: target.signer(m).crypto.encrypt("<xml>another body</xml>") for m in ("aes", "wecom")}

    @fuzz_settings(UNSIGNED_XML)
    @given(
        mode=st.sampled_from(MODES),
        body=hostile_bodies,
        recipe=BAD_SIGNATURES,
        for_other_body=st.booleans(),
        in_envelope=st.booleans(),
    )
    def case(mode: str, body: bytes, recipe: tuple[str, int, str], for_other_body: bool, in_envelope: bool) -> None:
        nonlocal ran
        ran += 1
        signer = target.signer(mode)
        params = {"timestamp": ts, "nonce": nonce}
        if mode == "plain":
            params["signature"] = wrong_signature(right_plain, recipe)
            sent = body
        else:
            encrypt = signer.crypto.encrypt(body.decode("utf-8", "replace"))
            right = signer.crypto.msg_signature(ts, nonce, encrypt)
            other = signer.crypto.msg_signature(ts, nonce, others[mode])
            params["msg_signature"] = other if for_other_body else wrong_signature(right, recipe)
            if mode == "aes":  # the plain signature is right: only msg_signature is wrong
                params.update(signature=right_plain, encrypt_type="aes")
            sent = signer.envelope(encrypt).encode() if in_envelope else body
        response = target.request("POST", signer.path, signed_url(params), sent)
        assert 400 <= response.status_code < 500
        assert target.rows() == NOTHING

    case()
    assert ran >= UNSIGNED_XML


def test_query_strings(target: Target) -> None:
    """GET and POST with parameters missing, duplicated, huge, oddly encoded, and timestamps far
    off or not numbers, sometimes correctly signed over those odd values: never a 5xx, nothing
    stored (the bodies here are never a message), and only a verified URL check answers 200."""
    ran = 0
    now = int(target.clock.now().timestamp())

    @fuzz_settings(QUERIES)
    @given(
        mode=st.sampled_from(MODES),
        method=st.sampled_from(["GET", "POST"]),
        ts=timestamps(now),
        nonce=st.one_of(st.just("n0nce"), st.text(max_size=20)),
        echostr=st.one_of(st.text(max_size=40), st.builds(operator.mul, st.just("e"), st.integers(0, 50_000))),
        signed=st.booleans(),
        recipe=BAD_SIGNATURES,
        drop=st.lists(st.sampled_from(PARAM_NAMES), max_size=3),
        extra=st.lists(st.tuples(st.sampled_from([*PARAM_NAMES, "", "=", "%00", "a" * 300]), odd_param), max_size=4),
        encode=st.sampled_from(["percent", "raw", "plus"]),
        body=st.sampled_from([b"", b"<xml/>", b"<xml><Encrypt></Encrypt></xml>", b"\xff\xfe", b"{}"]),
        shuffle=SHUFFLE,
    )
    def case(
        mode: str,
        method: str,
        ts: str,
        nonce: str,
        echostr: str,
        signed: bool,
        recipe: tuple[str, int, str],
        drop: list[str],
        extra: list[tuple[str, str]],
        encode: str,
        body: bytes,
        shuffle: Random,
    ) -> None:
        nonlocal ran
        ran += 1
        signer = target.signer(mode)
        if mode == "wecom":
            right, key = target.wecom.crypto.msg_signature(ts, nonce, echostr), "msg_signature"
        else:
            right, key = sha1_signature(DEFAULT_WECHAT["token"], ts, nonce), "signature"
        sig = right if signed else wrong_signature(right, recipe)
        params = [(key, sig), ("timestamp", ts), ("nonce", nonce), ("echostr", echostr)]
        if mode == "aes":
            params += [("encrypt_type", "aes"), ("msg_signature", sig)]
        params = [(k, v) for k, v in params if k not in drop]
        if encode == "percent":
            rendered = [(percent(k), percent(v)) for k, v in params]
        elif encode == "plus":
            rendered = [(k, percent(v).replace("%20", "+")) for k, v in params]
        else:
            rendered = params
        rendered += extra
        shuffle.shuffle(rendered)
        response = target.request(method, signer.path, render_query(rendered), body)
        if response.status_code < 300:  # only a verified URL check may succeed
            assert method == "GET" and signed
        assert target.rows() == NOTHING

    case()
    assert ran >= QUERIES


def test_signed_hostile_xml(target: Target) -> None:
    """Hostile and near-valid XML, correctly signed (and encrypted): a 2xx or 4xx, never a crash; a
    4xx changes nothing; a 2xx reply is one WeChat accepts (safe mode and WeCom: it verifies and
    decrypts)."""
    ran = accepted = 0

    @fuzz_settings(SIGNED_XML)
    @given(mode=st.sampled_from(MODES), doc=st.one_of(near_valid_xml(), near_valid_xml(), st.text(max_size=100)))
    def case(mode: str, doc: str) -> None:
        nonlocal ran, accepted
        ran += 1
        signer = target.signer(mode)
        before = target.rows()
        ts, nonce = signer.timestamp(), signer.new_nonce()
        if isinstance(signer, WeChatCallbackClient) and mode == "plain":
            body = doc.encode("utf-8", "surrogatepass")
            query = signer.signed_query(None, ts, nonce)
        else:
            encrypt = signer.crypto.encrypt(doc.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
            body = signer.envelope(encrypt).encode()
            query = signer.signed_query(encrypt, ts, nonce)
        response = target.request("POST", signer.path, signed_url(query), body)
        assert response.status_code < 300 or 400 <= response.status_code < 500
        if response.status_code >= 400:
            assert target.rows() == before
        else:
            accepted += 1
            signer.parse_reply(response)  # AssertionError if the reply is not what WeChat accepts

    case()
    assert ran >= SIGNED_XML
    assert accepted > SIGNED_XML // 20, "hardly any message was accepted: the pipeline went untested"


GARBAGE_ENCRYPT = st.one_of(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", max_size=200),
    st.text(max_size=50),
    st.builds(operator.mul, st.just("QUJD"), st.integers(0, 15_000)),
)


def test_signed_garbage_ciphertext(target: Target) -> None:
    """Envelopes and Encrypt values that are signed correctly but are not ciphertext of ours (random
    base64, another key's, truncated, in odd envelopes): 4xx and nothing stored."""
    ran = 0
    stranger = WeComCallbackClient(target.http, "t", DEFAULT_WECHAT["encoding_aes_key"], "ww-other")
    foreign = stranger.crypto.encrypt("<xml><FromUserName>o</FromUserName><MsgType>text</MsgType></xml>")

    @fuzz_settings(SIGNED_GARBAGE)
    @given(
        mode=st.sampled_from(["aes", "wecom"]),
        encrypt=st.one_of(GARBAGE_ENCRYPT, st.just(foreign)),
        cut=st.integers(0, 64),
        envelope=st.sampled_from(["plain", "cdata", "extra", "twice", "nested", "dtd"]),
        echo=st.booleans(),
    )
    def case(mode: str, encrypt: str, cut: int, envelope: str, echo: bool) -> None:
        nonlocal ran
        ran += 1
        signer = target.signer(mode)
        if cut and len(encrypt) > cut:
            encrypt = encrypt[:-cut]
        query = signer.signed_query(encrypt, signer.timestamp(), "n0nce")
        if echo and mode == "wecom":  # the URL check with a signed but undecryptable echostr
            response = target.request("GET", signer.path, signed_url({**query, "echostr": encrypt}))
            assert response.status_code == 400
            return
        text = xml_escape(encrypt)
        body = {
            "plain": f"<xml><Encrypt>{text}</Encrypt></xml>",
            "cdata": f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>",
            "extra": f"<xml><ToUserName>gh</ToUserName><Encrypt>{text}</Encrypt><Junk a='1'/></xml>",
            "twice": f"<xml><Encrypt>{text}</Encrypt><Encrypt>{text}</Encrypt></xml>",
            "nested": f"<xml><Encrypt><x>{text}</x></Encrypt></xml>",
            "dtd": f'<!DOCTYPE xml [<!ENTITY e "{text}">]><xml><Encrypt>&e;</Encrypt></xml>',
        }[envelope]
        response = target.request("POST", signer.path, signed_url(query), body.encode("utf-8", "surrogatepass"))
        assert 400 <= response.status_code < 500
        assert target.rows() == NOTHING

    case()
    assert ran >= SIGNED_GARBAGE
