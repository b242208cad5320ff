"""Safe parsing of callback XML into `Incoming`, and rendering of passive text replies."""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict

from bot.channels.crypto import cdata_safe
from bot.channels.wechatpy_parts import BaseMessage, UnknownMessage, parse_wechat_message, parse_wecom_message
from bot.incoming import EventItem, Incoming


class BadXML(Exception):
    """The body is not a well-formed, entity-free WeChat XML message."""


_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")

# Fields stored in length-limited columns (people.external_id, proposals.photo_*): longer values
# come from no real WeChat server, and PostgreSQL would refuse them mid-transaction.
_MAX_CHARS = {"FromUserName": 128, "MediaId": 200, "PicUrl": 500}
_MAX_LABEL = 200  # proposals.location_label; a long place name is cut, not refused
# Characters XML 1.0 cannot carry (C0 controls, lone surrogates, U+FFFE/F). Parsed XML never has
# them, but the JSON format can: refused so nothing unstorable (NUL) or unrepliable gets in.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Subscription-notification events carry their entries in <Container><List>…</List></Container>
# (the JSON format puts `List` at the top).
_ITEM_CONTAINERS = {
    "subscribe_msg_popup_event": "SubscribeMsgPopupEvent",
    "subscribe_msg_change_event": "SubscribeMsgChangeEvent",
    "subscribe_msg_sent_event": "SubscribeMsgSentEvent",
}
_MAX_ITEMS = 20  # a popup offers a handful of templates; more comes from no real WeChat server
_MAX_TEMPLATE_ID = 128  # subscribe_consents.template_id
_MAX_STATUS = 100
_DIGITS = re.compile(r"^-?\d{1,32}$")


def parse_message(body: bytes | str, channel: str) -> Incoming:
    """Parse a callback's plaintext XML with wechatpy, DTDs and entities refused outright."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if any(marker in raw for marker in _FORBIDDEN):
        raise BadXML("DTD or entity declaration")
    parser = parse_wecom_message if channel == "wecom" else parse_wechat_message
    try:
        if raw.lstrip().startswith(b"{"):
            return _from_json(raw, channel)
        message = parser(raw)
        if message is None:
            raise BadXML("empty body")
        return _to_incoming(message, channel)
    except BadXML:
        raise
    except Exception as exc:  # wechatpy lets KeyError/ExpatError/ValueError... escape on bad input
        raise BadXML(type(exc).__name__) from exc


def _from_json(raw: bytes, channel: str) -> Incoming:
    """The JSON push format an official account can choose instead of XML (same fields)."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadXML("bad JSON") from exc
    if not isinstance(doc, dict):
        raise BadXML("JSON message is not an object")
    fields: dict[str, Any] = {str(k): str(v) for k, v in doc.items() if isinstance(v, str | int | float)}
    for key in ("List", *_ITEM_CONTAINERS.values()):  # the entries of a subscription event, read by _items
        if isinstance(doc.get(key), dict | list):
            fields[key] = doc[key]
    return _to_incoming(UnknownMessage(fields), channel)


def _field(message: BaseMessage, key: str) -> str:
    value = message._data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadXML(f"{key} is not text")
    if len(value) > _MAX_CHARS.get(key, len(value)):
        raise BadXML(f"{key} is too long")
    if _NOT_XML_CHAR.search(value):
        raise BadXML(f"{key} has characters XML cannot carry")
    return value


def _float(message: BaseMessage, key: str, bound: float) -> float | None:
    """A coordinate, refused unless finite and within ±bound (NaN would break JSON columns)."""
    raw = _field(message, key)
    if not raw:
        return None
    value = float(raw)
    if not math.isfinite(value) or abs(value) > bound:
        raise BadXML(f"{key} is not a coordinate")
    return value


def _to_incoming(message: BaseMessage, channel: str) -> Incoming:
    """Map a wechatpy message to `Incoming`. Unknown types become kind="unknown"."""
    user = _field(message, "FromUserName")
    if not user:
        raise BadXML("no FromUserName")
    create_raw = _field(message, "CreateTime")
    common: dict[str, Any] = {
        "channel": channel,
        "user": user,
        "msg_id": _field(message, "MsgId"),
        "create_time": int(create_raw) if create_raw.isascii() and create_raw.isdigit() else 0,
        "account": _field(message, "ToUserName"),
    }
    msg_type = _field(message, "MsgType").lower()
    if msg_type == "text":
        return Incoming(kind="text", text=_field(message, "Content"), **common)
    if msg_type == "image":
        return Incoming(kind="image", media_id=_field(message, "MediaId"), pic_url=_field(message, "PicUrl"), **common)
    if msg_type == "location":
        return Incoming(
            kind="location",
            latitude=_float(message, "Location_X", 90),
            longitude=_float(message, "Location_Y", 180),
            label=_field(message, "Label")[:_MAX_LABEL],
            **common,
        )
    if msg_type == "voice":
        # With speech recognition on, WeChat hands us the words: text, marked as heard (read back before filing).
        recognition = _field(message, "Recognition")
        if recognition:
            return Incoming(kind="text", text=recognition, recognised=True, **common)
        return Incoming(kind="voice", media_id=_field(message, "MediaId"), **common)
    if msg_type == "event":
        event = _field(message, "Event").lower()
        return Incoming(
            kind="event",
            event=event,
            event_key=_field(message, "EventKey"),
            items=_items(message, event),
            **common,
        )
    if msg_type in {"video", "shortvideo", "link", "file"}:
        return Incoming(kind=msg_type, **common)
    return Incoming(kind="unknown", **common)


def _items(message: BaseMessage, event: str) -> tuple[EventItem, ...]:
    """What a delivery report or subscription event is about; () for every other event."""
    data = message._data
    if event == "templatesendjobfinish":
        return (EventItem(msg_id=_number(data.get("MsgID")), status=_text(data, "Status", _MAX_STATUS)),)
    container = _ITEM_CONTAINERS.get(event)
    if container is None:
        return ()
    held = data.get(container)
    entries = held.get("List") if isinstance(held, dict) else data.get("List")
    if entries is None:
        return ()
    if isinstance(entries, dict):  # one <List> parses as a mapping, several as a list
        entries = [entries]
    if not isinstance(entries, list) or len(entries) > _MAX_ITEMS:
        raise BadXML(f"{event} entries")
    items = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise BadXML(f"{event} entry is not a record")
        template_id = _text(entry, "TemplateId", _MAX_TEMPLATE_ID, refuse_longer=True)
        status = _text(entry, "SubscribeStatusString", _MAX_STATUS) or _text(entry, "ErrorStatus", _MAX_STATUS)
        code = _number(entry.get("ErrorCode"))
        items.append(
            EventItem(
                template_id=template_id,
                status=status,
                msg_id=_number(entry.get("MsgID")),
                code=int(code) if code else None,
            )
        )
    return tuple(items)


def _text(record: dict[str, Any], key: str, limit: int, *, refuse_longer: bool = False) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise BadXML(f"{key} is not text")
    text = str(value).strip()
    if _NOT_XML_CHAR.search(text) or (refuse_longer and len(text) > limit):
        raise BadXML(f"{key} is not usable")
    return text[:limit]


def _number(value: Any) -> str:
    """A MsgID or ErrorCode: digits only (as text, 64-bit ids do not fit a float)."""
    if value is None or value == "":
        return ""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not _DIGITS.match(text):
        raise BadXML("not a number")
    return text


def parse_envelope(body: bytes) -> dict[str, Any]:
    """Parse the outer XML of an encrypted callback (just `<Encrypt>` and friends)."""
    if any(marker in body for marker in _FORBIDDEN):
        raise BadXML("DTD or entity declaration")
    try:
        # WeChat sends UTF-8 only. Fixing it stops a declared encoding from picking a Python codec
        # ("base64", "rot13"; unknown names raise LookupError). A DTD the byte check cannot see
        # (UTF-16 with a BOM) still meets disable_entities.
        doc = xmltodict.parse(body, encoding="utf-8", disable_entities=True)
    except (ExpatError, ValueError, LookupError, TypeError) as exc:
        raise BadXML(type(exc).__name__) from exc
    root = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(root, dict) or not isinstance(root.get("Encrypt"), str):
        raise BadXML("no <Encrypt> in the envelope")
    return root


def render_text_reply(incoming: Incoming, content: str, now: float | None = None) -> str:
    """A passive text reply, with `]]>` in the content split so the XML stays well formed."""
    created = int(now if now is not None else time.time())
    return (
        "<xml>"
        f"<ToUserName><![CDATA[{cdata_safe(incoming.user)}]]></ToUserName>"
        f"<FromUserName><![CDATA[{cdata_safe(incoming.account)}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{cdata_safe(content)}]]></Content>"
        "</xml>"
    )
