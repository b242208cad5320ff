"""A stand-in for the WeChat / WeCom servers: builds callback XML, signs, encrypts and posts it.

Tests drive the app the way Tencent does (same query parameters, same XML envelopes, same
crypto) and check passive replies the way Tencent would: MsgSignature verified in constant time,
ciphertext decrypted and its receive id checked. The AES part is wechatpy's `PrpCrypto`; the
signatures are computed here, independently of the app's own code, so a shared bug cannot hide.

Typical use::

    client = WeChatCallbackClient(TestClient(app), **DEFAULT_WECHAT)
    reply = client.send_text("o_user", "你好")
    assert reply.status_code == 200 and "你好" in reply.content
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import re
import secrets
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol, TypedDict
from urllib.parse import quote, urlencode
from xml.parsers.expat import ExpatError
from xml.sax.saxutils import escape

import xmltodict
from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import WeChatException

__all__ = [
    "DEFAULT_WECHAT",
    "DEFAULT_WECOM",
    "Bare",
    "CallbackCrypto",
    "Reply",
    "WeChatCallbackClient",
    "WeChatConfig",
    "WeComCallbackClient",
    "WeComConfig",
    "build_event",
    "build_image",
    "build_location",
    "build_raw",
    "build_text",
    "build_voice",
    "cdata",
    "next_msg_id",
    "parse_xml",
    "sha1_signature",
]

# WeChat's limit for a text message's content (passive reply and customer-service text), in UTF-8 bytes.
MAX_TEXT_BYTES = 2048


class WeChatConfig(TypedDict):
    """Keyword arguments shared by the app's settings and `WeChatCallbackClient(**...)`."""

    token: str
    encoding_aes_key: str
    app_id: str


class WeComConfig(TypedDict):
    """Keyword arguments shared by the app's settings and `WeComCallbackClient(**...)`."""

    token: str
    encoding_aes_key: str
    corp_id: str


# The credentials the whole test suite configures the app with. Not secrets: made up for tests.
# Each key is base64 of a 32-byte ASCII phrase with the trailing "=" dropped (43 characters).
DEFAULT_WECHAT: Final[WeChatConfig] = {
    "token": "shangliang-test-wechat-token",
    "encoding_aes_key": "c2hhbmdsaWFuZyB0ZXN0IHdlY2hhdCBBRVMga2V5ISE",  # "shangliang test wechat AES key!!"
    "app_id": "wx1234567890abcdef",
}
DEFAULT_WECOM: Final[WeComConfig] = {
    "token": "shangliang-test-wecom-token",
    "encoding_aes_key": "c2hhbmdsaWFuZyB0ZXN0IHdlY29tIEFFUyBrZXkgOik",  # "shangliang test wecom AES key :)"
    "corp_id": "ww1234567890abcdef",
}


# --------------------------------------------------------------------------------------------
# XML building
# --------------------------------------------------------------------------------------------


class Bare(str):
    """Text that `build_raw` writes without CDATA (escaped), as WeChat writes numbers."""

    __slots__ = ()


_msg_id_lock = threading.Lock()
_msg_ids = itertools.count(7_300_000_000_000_000_001)  # 64-bit like real MsgIds, below 2**63


def next_msg_id() -> int:
    """A process-wide unique, increasing MsgId, so dedup logic sees distinct messages."""
    with _msg_id_lock:
        return next(_msg_ids)


def cdata(text: str) -> str:
    """Wrap text in CDATA, splitting any `]]>` so the text cannot end the section early."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


_TAG = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")

XmlValue = str | int | float | Mapping[str, Any] | Sequence[Any] | None


def _render(tag: str, value: XmlValue) -> str:
    if not _TAG.match(tag):
        raise ValueError(f"not a usable XML tag name: {tag!r}")
    if value is None:
        return ""
    if isinstance(value, bool):
        raise TypeError(f"{tag}: WeChat XML has no booleans; pass 0/1 or a string")
    if isinstance(value, Bare | int | float):
        return f"<{tag}>{escape(str(value))}</{tag}>"
    if isinstance(value, str):
        return f"<{tag}>{cdata(value)}</{tag}>"
    if isinstance(value, Mapping):
        return f"<{tag}>" + "".join(_render(k, v) for k, v in value.items()) + f"</{tag}>"
    if isinstance(value, Sequence):
        return "".join(_render(tag, item) for item in value)
    raise TypeError(f"{tag}: cannot render {type(value).__name__}")


def build_raw(fields: Mapping[str, Any]) -> str:
    """`<xml>` from fields in order, for message types the typed builders do not cover.

    str -> CDATA; int, float and `Bare` -> plain escaped text; a mapping -> nested element; a
    list -> the element repeated; None -> left out. Nothing is added: pass every field you want.
    """
    return "<xml>" + "".join(_render(tag, value) for tag, value in fields.items()) + "</xml>"


def _message(
    from_user: str,
    to_user: str,
    msg_type: str,
    body: Mapping[str, Any],
    *,
    create_time: int | None,
    msg_id: int | str | None,
    with_msg_id: bool,
    agent_id: str | None,
) -> str:
    fields: dict[str, Any] = {
        "ToUserName": to_user,
        "FromUserName": from_user,
        "CreateTime": int(time.time()) if create_time is None else int(create_time),
        "MsgType": msg_type,
        **body,
    }
    if with_msg_id:
        fields["MsgId"] = Bare(str(next_msg_id() if msg_id is None else msg_id))
    if agent_id is not None:
        fields["AgentID"] = Bare(agent_id) if agent_id.isdigit() else agent_id
    return build_raw(fields)


def build_text(
    from_user: str,
    to_user: str,
    content: str,
    msg_id: int | str | None = None,
    create_time: int | None = None,
    agent_id: str | None = None,
) -> str:
    """A text message as WeChat posts it (WeCom: pass `agent_id`)."""
    return _message(
        from_user,
        to_user,
        "text",
        {"Content": content},
        create_time=create_time,
        msg_id=msg_id,
        with_msg_id=True,
        agent_id=agent_id,
    )


def build_image(
    from_user: str,
    to_user: str,
    pic_url: str,
    media_id: str,
    msg_id: int | str | None = None,
    create_time: int | None = None,
    agent_id: str | None = None,
) -> str:
    """An image message (PicUrl + MediaId)."""
    return _message(
        from_user,
        to_user,
        "image",
        {"PicUrl": pic_url, "MediaId": media_id},
        create_time=create_time,
        msg_id=msg_id,
        with_msg_id=True,
        agent_id=agent_id,
    )


def build_location(
    from_user: str,
    to_user: str,
    x: float | str,
    y: float | str,
    label: str,
    scale: str = "15",
    msg_id: int | str | None = None,
    create_time: int | None = None,
    agent_id: str | None = None,
) -> str:
    """A location message; x is latitude (Location_X), y longitude (Location_Y)."""
    body = {"Location_X": Bare(str(x)), "Location_Y": Bare(str(y)), "Scale": Bare(scale), "Label": label}
    return _message(
        from_user,
        to_user,
        "location",
        body,
        create_time=create_time,
        msg_id=msg_id,
        with_msg_id=True,
        agent_id=agent_id,
    )


def build_voice(
    from_user: str,
    to_user: str,
    media_id: str,
    recognition: str = "",
    voice_format: str = "amr",
    msg_id: int | str | None = None,
    create_time: int | None = None,
    agent_id: str | None = None,
) -> str:
    """A voice message; `recognition` is WeChat's speech-to-text, sent only when non-empty."""
    body: dict[str, Any] = {"MediaId": media_id, "Format": voice_format}
    if recognition:
        body["Recognition"] = recognition
    return _message(
        from_user,
        to_user,
        "voice",
        body,
        create_time=create_time,
        msg_id=msg_id,
        with_msg_id=True,
        agent_id=agent_id,
    )


def build_event(
    from_user: str,
    to_user: str,
    event: str,
    event_key: str = "",
    create_time: int | None = None,
    agent_id: str | None = None,
) -> str:
    """An event push (subscribe, CLICK, ...): no MsgId; EventKey only when non-empty, as documented."""
    body: dict[str, Any] = {"Event": event}
    if event_key:
        body["EventKey"] = event_key
    return _message(
        from_user,
        to_user,
        "event",
        body,
        create_time=create_time,
        msg_id=None,
        with_msg_id=False,
        agent_id=agent_id,
    )


def build_template_job_finished(
    from_user: str, to_user: str, msg_id: int | str, status: str, create_time: int | None = None
) -> str:
    """WeChat's report on a template message (TEMPLATESENDJOBFINISH): `MsgID` is what the send answered;
    `Status` is `success`, `failed:user block` or `failed: system failed`."""
    body = {"Event": "TEMPLATESENDJOBFINISH", "MsgID": Bare(str(msg_id)), "Status": status}
    return _message(
        from_user, to_user, "event", body, create_time=create_time, msg_id=None, with_msg_id=False, agent_id=None
    )


SUBSCRIBE_MSG_CONTAINERS = {
    "subscribe_msg_popup_event": "SubscribeMsgPopupEvent",
    "subscribe_msg_change_event": "SubscribeMsgChangeEvent",
    "subscribe_msg_sent_event": "SubscribeMsgSentEvent",
}


def build_subscribe_msg_event(
    from_user: str,
    to_user: str,
    event: str,
    items: Sequence[Mapping[str, Any]],
    create_time: int | None = None,
) -> str:
    """A subscription-notification event (订阅通知): its entries in `<Container><List>…</List></Container>`,
    e.g. `{"TemplateId": "tpl", "SubscribeStatusString": "accept", "PopupScene": Bare("1")}` for a popup,
    `{"TemplateId": "tpl", "MsgID": Bare("1"), "ErrorCode": Bare("0"), "ErrorStatus": "success"}` for a send."""
    body = {"Event": event, SUBSCRIBE_MSG_CONTAINERS[event]: {"List": list(items)}}
    return _message(
        from_user, to_user, "event", body, create_time=create_time, msg_id=None, with_msg_id=False, agent_id=None
    )


def parse_xml(text: str | bytes) -> dict[str, Any]:
    """Parse `<xml>...</xml>` into a dict, keeping whitespace inside values (e.g. in Content).

    Raises ValueError when it is not well-formed XML with an `<xml>` root element.
    """
    try:
        doc = xmltodict.parse(text, strip_whitespace=False, disable_entities=True)
    except (ExpatError, ValueError, TypeError) as exc:
        raise ValueError(f"not well-formed XML: {exc}") from exc
    if not isinstance(doc, dict) or "xml" not in doc:
        raise ValueError("the root element is not <xml>")
    root = doc["xml"]
    if root is None:  # <xml/> or <xml></xml>
        return {}
    if not isinstance(root, dict):
        raise ValueError("<xml> root holds text, not fields")
    return _drop_layout_text(root)


def _drop_layout_text(node: dict[str, Any]) -> dict[str, Any]:
    """Remove the whitespace between elements that strip_whitespace=False keeps as '#text'."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "#text" and isinstance(value, str) and not value.strip():
            continue
        out[key] = _drop_layout_text(value) if isinstance(value, dict) else value
    return out


# --------------------------------------------------------------------------------------------
# Signatures and crypto
# --------------------------------------------------------------------------------------------


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: sha1 of the sorted parts concatenated, lowercase hex."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _forge(signature: str) -> str:
    """A well-formed (40 hex) signature that is certainly not the right one."""
    forged = hashlib.sha1(b"forged:" + signature.encode()).hexdigest()
    return forged if forged != signature else "0" * 40


def _aes_key(encoding_aes_key: str) -> bytes:
    if len(encoding_aes_key) != 43:
        raise ValueError("EncodingAESKey must be 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("EncodingAESKey is not base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


class CallbackCrypto:
    """Signing and AES for one receiver (official account: AppID; WeCom: CorpID).

    `prp_class` lets a test substitute a `PrpCrypto` subclass with a fixed random prefix, which
    makes encryption deterministic (that is how the official sample vectors were produced).
    """

    def __init__(
        self,
        token: str,
        encoding_aes_key: str | None,
        receive_id: str,
        prp_class: type[Any] = PrpCrypto,
    ) -> None:
        self.token = token
        self.key: bytes | None = None if encoding_aes_key is None else _aes_key(encoding_aes_key)
        self.receive_id = receive_id
        self.prp_class = prp_class

    def signature(self, timestamp: str, nonce: str) -> str:
        """The plain `signature` query value (official account, every request)."""
        return sha1_signature(self.token, timestamp, nonce)

    def msg_signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        """The `msg_signature` over an Encrypt value (safe mode, WeCom, encrypted replies)."""
        return sha1_signature(self.token, timestamp, nonce, encrypt)

    def _prp(self) -> Any:
        if self.key is None:
            raise ValueError("no EncodingAESKey configured: this client is in plain mode")
        return self.prp_class(self.key)

    def encrypt(self, plaintext: str) -> str:
        """AES-encrypt plaintext for this receiver, base64 (what goes in `<Encrypt>`)."""
        return str(self._prp().encrypt(plaintext, self.receive_id).decode("ascii"))

    def decrypt(self, encrypt: str) -> str:
        """Decrypt an `<Encrypt>` value strictly; ValueError if padding or receive id is wrong."""
        prp = self._prp()
        try:
            data = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("Encrypt is not base64") from exc
        if not data or len(data) % 16:
            raise ValueError(f"ciphertext length {len(data)} is not a positive multiple of 16")
        padded = prp.cipher.decrypt(data)
        pad = padded[-1]
        if not 1 <= pad <= 32 or padded[-pad:] != bytes([pad]) * pad:
            raise ValueError("bad PKCS#7 padding")
        body = padded[16:-pad]
        if len(body) < 4 or struct.unpack(">I", body[:4])[0] > len(body) - 4:
            raise ValueError("message length field does not fit the plaintext")
        try:
            return str(prp.decrypt(encrypt, self.receive_id))
        except WeChatException as exc:
            raise ValueError(f"receive id is not {self.receive_id!r}") from exc
        except (UnicodeDecodeError, struct.error, IndexError) as exc:
            raise ValueError(f"undecodable plaintext: {exc}") from exc

    def encrypted_reply(self, plaintext: str, timestamp: str, nonce: str) -> str:
        """The safe-mode reply envelope an app should answer with (handy for harness tests)."""
        encrypt = self.encrypt(plaintext)
        return (
            f"<xml><Encrypt>{cdata(encrypt)}</Encrypt>"
            f"<MsgSignature>{cdata(self.msg_signature(timestamp, nonce, encrypt))}</MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce>{cdata(nonce)}</Nonce></xml>"
        )


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------


class ResponseLike(Protocol):
    """What the harness reads from a response (httpx.Response and TestClient's both fit)."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...


class HttpLike(Protocol):
    """The httpx.Client / TestClient subset the harness calls."""

    def get(self, url: str, /) -> Any: ...

    def post(self, url: str, /, *, content: bytes, headers: dict[str, str]) -> Any: ...


class _DatetimeClock(Protocol):
    def now(self) -> datetime: ...


ClockLike = Callable[[], float] | _DatetimeClock


@dataclass(frozen=True)
class Reply:
    """A passive reply as WeChat would see it, verified and decrypted.

    `is_empty` means "no passive reply" (body "" or "success"). Non-200 bodies are not parsed.
    """

    status_code: int
    raw: str
    content: str = ""
    msg_type: str = ""
    to_user: str = ""
    from_user: str = ""
    is_empty: bool = False
    plaintext: str = ""
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """WeChat only accepts a 200; anything else counts as a failed delivery and is retried."""
        return self.status_code == 200


_TAMPER = {"signature", "msg_signature"}


class _CallbackClient:
    """Shared machinery: time, nonces, URLs, sending, and reply verification."""

    path: str
    to_user: str
    crypto: CallbackCrypto
    message_agent_id: str | None = None

    def __init__(self, http: HttpLike, clock: ClockLike) -> None:
        self.http = http
        self.clock = clock

    # -- small helpers ------------------------------------------------------------------------

    def now(self) -> int:
        """The current unix time per the injected clock (a callable, or an object with .now())."""
        if callable(self.clock):
            return int(self.clock())
        return int(self.clock.now().timestamp())

    def timestamp(self) -> str:
        """The `timestamp` query value WeChat would send now."""
        return str(self.now())

    @staticmethod
    def new_nonce() -> str:
        """A fresh numeric nonce, like WeChat's."""
        return str(1_000_000_000 + secrets.randbelow(9_000_000_000))

    def url(self, query: Mapping[str, str]) -> str:
        """Path plus a properly percent-encoded query (`+` becomes %2B, `/` %2F, `=` %3D)."""
        return f"{self.path}?{urlencode(query, quote_via=quote, safe='')}" if query else self.path

    def get_raw(self, query: Mapping[str, str]) -> Any:
        """GET the callback path with exactly this query: for hand-made bad requests."""
        return self.http.get(self.url(query))

    def post_raw(self, body: str | bytes, query: Mapping[str, str]) -> Any:
        """POST exactly this body and query, as text/xml: for hand-made bad requests."""
        content = body.encode("utf-8") if isinstance(body, str) else body
        return self.http.post(self.url(query), content=content, headers={"Content-Type": "text/xml"})

    # -- replies ------------------------------------------------------------------------------

    def _open(self, raw: str, encrypted: bool) -> str:
        if not encrypted:
            return raw
        try:
            env = parse_xml(raw)
        except ValueError as exc:
            raise AssertionError(f"encrypted reply is not XML: {exc}; body={raw[:200]!r}") from exc
        parts = {k: env.get(k) for k in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")}
        missing = [k for k, v in parts.items() if not isinstance(v, str) or not v]
        if missing:
            raise AssertionError(f"encrypted reply lacks {missing}; body={raw[:200]!r}")
        encrypt, signature, timestamp, nonce = (str(parts[k]) for k in parts)
        if not timestamp.isdigit():
            raise AssertionError(f"reply TimeStamp {timestamp!r} is not a unix time")
        expected = self.crypto.msg_signature(timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise AssertionError("reply MsgSignature does not match its Encrypt/TimeStamp/Nonce")
        try:
            return self.crypto.decrypt(encrypt)
        except ValueError as exc:
            raise AssertionError(f"reply does not decrypt: {exc}") from exc

    def parse_reply(self, response: ResponseLike, *, encrypted: bool | None = None) -> Reply:
        """Verify (safe mode / WeCom), decrypt and parse a passive reply; AssertionError if bad."""
        status, raw = int(response.status_code), response.text
        if raw in ("", "success"):
            return Reply(status_code=status, raw=raw, is_empty=True)
        if status != 200:
            return Reply(status_code=status, raw=raw)
        plaintext = self._open(raw, self._encrypted(encrypted))
        if plaintext in ("", "success"):
            raise AssertionError(f"{plaintext!r} was sent encrypted; WeChat expects it as the plain body")
        try:
            fields = parse_xml(plaintext)
        except ValueError as exc:
            raise AssertionError(f"reply is not WeChat XML: {exc}; {plaintext[:200]!r}") from exc
        if "Encrypt" in fields and "MsgType" not in fields:
            raise AssertionError("got an encrypted reply but the request was in plain mode")
        msg_type = fields.get("MsgType")
        if not isinstance(msg_type, str) or not msg_type:
            raise AssertionError(f"reply has no MsgType: {plaintext[:200]!r}")

        def text(key: str) -> str:
            value = fields.get(key)
            return value if isinstance(value, str) else ""

        if len(text("Content").encode()) > MAX_TEXT_BYTES:
            # WeChat shows nothing for a text reply past its size: the person would be left without an answer.
            raise AssertionError(f"reply text is {len(text('Content').encode())} bytes, over WeChat's {MAX_TEXT_BYTES}")
        return Reply(
            status_code=status,
            raw=raw,
            content=text("Content"),
            msg_type=msg_type,
            to_user=text("ToUserName"),
            from_user=text("FromUserName"),
            is_empty=False,
            plaintext=plaintext,
            fields=fields,
        )

    def _encrypted(self, encrypted: bool | None) -> bool:
        return True

    # -- sending ------------------------------------------------------------------------------

    def post_xml(
        self,
        xml: str,
        *,
        timestamp: str | int | None = None,
        nonce: str | None = None,
        tamper: str | None = None,
    ) -> Any:
        """Sign (and encrypt) a message XML and POST it; defined by each platform's client."""
        raise NotImplementedError

    def send(self, xml: str) -> Reply:
        """Post plaintext message XML the normal way and return the checked reply."""
        return self.parse_reply(self.post_xml(xml))

    def send_text(self, user: str, content: str, msg_id: int | str | None = None) -> Reply:
        """The user types `content`."""
        return self.send(build_text(user, self.to_user, content, msg_id, self.now(), self.message_agent_id))

    def send_image(
        self,
        user: str,
        pic_url: str = "https://mmbiz.qpic.cn/test.jpg",
        media_id: str = "media_test",
        msg_id: int | str | None = None,
    ) -> Reply:
        """The user sends a picture."""
        return self.send(build_image(user, self.to_user, pic_url, media_id, msg_id, self.now(), self.message_agent_id))

    def send_location(
        self,
        user: str,
        x: float | str,
        y: float | str,
        label: str = "",
        scale: str = "15",
        msg_id: int | str | None = None,
    ) -> Reply:
        """The user shares a location (x latitude, y longitude)."""
        xml = build_location(user, self.to_user, x, y, label, scale, msg_id, self.now(), self.message_agent_id)
        return self.send(xml)

    def send_voice(
        self,
        user: str,
        media_id: str = "media_voice",
        recognition: str = "",
        msg_id: int | str | None = None,
    ) -> Reply:
        """The user sends a voice note, optionally with WeChat's speech recognition text."""
        xml = build_voice(user, self.to_user, media_id, recognition, "amr", msg_id, self.now(), self.message_agent_id)
        return self.send(xml)

    def send_event(self, user: str, event: str, key: str = "") -> Reply:
        """An event push such as subscribe / unsubscribe / CLICK."""
        return self.send(build_event(user, self.to_user, event, key, self.now(), self.message_agent_id))

    def template_job_finished(self, user: str, msg_id: int | str, status: str = "success") -> Reply:
        """WeChat reports how a template message to `user` ended (TEMPLATESENDJOBFINISH)."""
        return self.send(build_template_job_finished(user, self.to_user, msg_id, status, self.now()))

    def subscribe_msg_event(self, user: str, event: str, items: Sequence[Mapping[str, Any]]) -> Reply:
        """A subscription-notification event: a popup answered, a choice changed, or a send's result."""
        return self.send(build_subscribe_msg_event(user, self.to_user, event, items, self.now()))

    def click(self, user: str, key: str) -> Reply:
        """The user taps a CLICK menu button whose key is `key`."""
        return self.send_event(user, "CLICK", key)

    def send_raw(self, fields: Mapping[str, Any]) -> Reply:
        """Any message built with `build_raw` (unknown MsgType, odd fields)."""
        return self.send(build_raw(fields))

    @staticmethod
    def _check_tamper(tamper: str | None, allowed: set[str]) -> None:
        if tamper is not None and tamper not in allowed:
            raise ValueError(f"tamper must be one of {sorted(allowed)}, not {tamper!r}")


def _from_user(xml: str) -> str | None:
    try:
        value = parse_xml(xml).get("FromUserName")
    except ValueError:
        return None
    return value if isinstance(value, str) and value else None


class WeChatCallbackClient(_CallbackClient):
    """The official-account server: plain mode if `encoding_aes_key` is None, else safe mode."""

    def __init__(
        self,
        http: HttpLike,
        token: str,
        encoding_aes_key: str | None = None,
        app_id: str = "",
        account: str = "gh_test",
        path: str = "/wechat",
        clock: ClockLike = time.time,
        prp_class: type[Any] = PrpCrypto,
    ) -> None:
        super().__init__(http, clock)
        if encoding_aes_key is not None and not app_id:
            raise ValueError("safe mode needs the AppID (it is the receive id inside every ciphertext)")
        self.crypto = CallbackCrypto(token, encoding_aes_key, app_id, prp_class)
        self.app_id = app_id
        self.account = account
        self.to_user = account
        self.path = path

    @property
    def encrypted(self) -> bool:
        """True in safe mode (an EncodingAESKey was given)."""
        return self.crypto.key is not None

    def _encrypted(self, encrypted: bool | None) -> bool:
        return self.encrypted if encrypted is None else encrypted

    def signed_query(
        self, body_encrypt: str | None, timestamp: str, nonce: str, *, openid: str | None = None
    ) -> dict[str, str]:
        """The POST query: signature always; encrypt_type + msg_signature when `body_encrypt` is set."""
        query = {"signature": self.crypto.signature(timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
        if openid is not None:
            query["openid"] = openid
        if body_encrypt is not None:
            query["encrypt_type"] = "aes"
            query["msg_signature"] = self.crypto.msg_signature(timestamp, nonce, body_encrypt)
        return query

    def verify_query(self, echostr: str, timestamp: str, nonce: str) -> dict[str, str]:
        """The URL-check GET query: signature, timestamp, nonce, echostr."""
        return {**self.signed_query(None, timestamp, nonce), "echostr": echostr}

    def envelope(self, encrypt: str) -> str:
        """The safe-mode POST body around an Encrypt value."""
        return f"<xml><ToUserName>{cdata(self.account)}</ToUserName><Encrypt>{cdata(encrypt)}</Encrypt></xml>"

    def verify_url(
        self,
        echostr: str,
        *,
        timestamp: str | int | None = None,
        nonce: str | None = None,
        tamper: str | None = None,
    ) -> Any:
        """The "configure server URL" check; a correct app answers 200 with echostr as is."""
        self._check_tamper(tamper, {"signature"})
        ts = self.timestamp() if timestamp is None else str(timestamp)
        query = self.verify_query(echostr, ts, nonce or self.new_nonce())
        if tamper:
            query["signature"] = _forge(query["signature"])
        return self.get_raw(query)

    def post_xml(
        self,
        xml: str,
        *,
        encrypted: bool | None = None,
        timestamp: str | int | None = None,
        nonce: str | None = None,
        tamper: str | None = None,
        openid: str | None = None,
    ) -> Any:
        """POST a plaintext message XML (encrypting it in safe mode); returns the raw response.

        `tamper` forges "signature" or (safe mode) "msg_signature". `openid` defaults to the
        message's FromUserName, as WeChat sends it.
        """
        self._check_tamper(tamper, _TAMPER)
        encrypted = self._encrypted(encrypted)
        if tamper == "msg_signature" and not encrypted:
            raise ValueError("plain mode has no msg_signature to tamper with")
        ts = self.timestamp() if timestamp is None else str(timestamp)
        nonce = nonce or self.new_nonce()
        encrypt = self.crypto.encrypt(xml) if encrypted else None
        query = self.signed_query(encrypt, ts, nonce, openid=openid or _from_user(xml))
        if tamper:
            query[tamper] = _forge(query[tamper])
        body = self.envelope(encrypt) if encrypt is not None else xml
        return self.post_raw(body, query)


class WeComCallbackClient(_CallbackClient):
    """The WeCom server: always encrypted, receive id = CorpID, messages carry AgentID."""

    def __init__(
        self,
        http: HttpLike,
        token: str,
        encoding_aes_key: str,
        corp_id: str,
        agent_id: str = "1000002",
        path: str = "/wecom",
        clock: ClockLike = time.time,
        prp_class: type[Any] = PrpCrypto,
    ) -> None:
        super().__init__(http, clock)
        self.crypto = CallbackCrypto(token, encoding_aes_key, corp_id, prp_class)
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.message_agent_id = agent_id
        self.to_user = corp_id
        self.path = path

    def signed_query(self, body_encrypt: str | None, timestamp: str, nonce: str) -> dict[str, str]:
        """The POST query: msg_signature over the Encrypt value, timestamp, nonce."""
        if body_encrypt is None:
            raise ValueError("WeCom callbacks are always encrypted: pass the Encrypt value")
        return {
            "msg_signature": self.crypto.msg_signature(timestamp, nonce, body_encrypt),
            "timestamp": timestamp,
            "nonce": nonce,
        }

    def verify_query(self, encrypted_echostr: str, timestamp: str, nonce: str) -> dict[str, str]:
        """The URL-check GET query; msg_signature is computed over the encrypted echostr."""
        return {**self.signed_query(encrypted_echostr, timestamp, nonce), "echostr": encrypted_echostr}

    def envelope(self, encrypt: str) -> str:
        """The POST body around an Encrypt value."""
        return (
            f"<xml><ToUserName>{cdata(self.corp_id)}</ToUserName>"
            f"<AgentID>{cdata(self.agent_id)}</AgentID><Encrypt>{cdata(encrypt)}</Encrypt></xml>"
        )

    def verify_url(
        self,
        plain_echostr: str,
        *,
        timestamp: str | int | None = None,
        nonce: str | None = None,
        tamper: str | None = None,
    ) -> Any:
        """The URL check: echostr goes encrypted; a correct app answers 200 with the plaintext."""
        self._check_tamper(tamper, {"msg_signature"})
        ts = self.timestamp() if timestamp is None else str(timestamp)
        query = self.verify_query(self.crypto.encrypt(plain_echostr), ts, nonce or self.new_nonce())
        if tamper:
            query["msg_signature"] = _forge(query["msg_signature"])
        return self.get_raw(query)

    def post_xml(
        self,
        xml: str,
        *,
        timestamp: str | int | None = None,
        nonce: str | None = None,
        tamper: str | None = None,
    ) -> Any:
        """POST a plaintext message XML, encrypted and signed; returns the raw response.

        `tamper="msg_signature"` forges the signature.
        """
        self._check_tamper(tamper, {"msg_signature"})
        ts = self.timestamp() if timestamp is None else str(timestamp)
        encrypt = self.crypto.encrypt(xml)
        query = self.signed_query(encrypt, ts, nonce or self.new_nonce())
        if tamper:
            query["msg_signature"] = _forge(query["msg_signature"])
        return self.post_raw(self.envelope(encrypt), query)
