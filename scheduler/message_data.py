"""What a template or subscription message says: its fields, filled from an outbox row.

Template messages (模板消息) carry the fields the README names: the reminder template's `thing1` / `thing2`
(the text in two pieces), the result and follow-up templates' `item` / `result` / `adopted` / `rating`. A
subscription template (订阅通知) has keys of its own, chosen from WeChat's library (`thing1`, `phrase3`, …):
WECHAT_SUBSCRIBE_TEMPLATES lists them in the order our values fill them. Each value is cut to what its
key's type holds (`thing` 20 characters, `phrase` 5, …).
"""

from __future__ import annotations

import re
from typing import Any

# The values a message of each purpose has, in order.
SLOTS = {"reminder": ("thing1", "thing2")}
RESULT_SLOTS = ("item", "result", "adopted", "rating")
# How many characters a subscription field of each type holds (WeChat's 订阅通知 parameter rules).
KEY_LIMITS = {"thing": 20, "short_thing": 5, "phrase": 5, "name": 10, "character_string": 32, "letter": 32, "symbol": 5}
_KEY_TYPE = re.compile(r"^([a-z_]+?)\d+$")
WHOLE_WORDS = frozenset({"phrase", "short_thing", "symbol"})  # no ellipsis: these take words, not sentences


def template_data(purpose: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The template's `data`: the given fields; else the text in the fields that template has."""
    fields = payload.get("fields")
    if isinstance(fields, dict) and fields:
        return {str(k): v if isinstance(v, dict) else {"value": str(v)} for k, v in fields.items()}
    text = str(payload.get("text", "")).strip()
    if purpose == "reminder":
        data: dict[str, Any] = {"thing1": {"value": text[:20]}}
        rest = text[20:]
        if rest:
            data["thing2"] = {"value": cut(rest)}
        return data
    head, _, body = text.partition("\n")  # a notice's first line says what it is about
    return {
        "item": {"value": cut(head.strip("【】 "))},
        "result": {"value": cut(body.strip() or head)},
        "adopted": {"value": "详见公众号消息"},
        "rating": {"value": "回复「我的」查看"},
    }


def subscription_data(purpose: str, payload: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The subscription message's `data`: our values in order under the template's own keys."""
    given = template_data(purpose, payload)
    slots = SLOTS.get(purpose, RESULT_SLOTS)
    values = [_value(given[s]) for s in slots if s in given] or [_value(v) for v in given.values()]
    return {key: {"value": fit(key, value)} for key, value in zip(keys, values, strict=False)}


def fit(key: str, value: str) -> str:
    """`value` cut to what a field of `key`'s type holds (never empty: WeChat refuses an empty field)."""
    match = _KEY_TYPE.match(key)
    kind = match.group(1) if match else key
    size = KEY_LIMITS.get(kind, 20)
    text = " ".join(value.split()) or "-"
    if kind in WHOLE_WORDS:
        return text[:size]
    return cut(text, size)


def cut(text: str, size: int = 20) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"


def _value(field: Any) -> str:
    return str(field.get("value", "")) if isinstance(field, dict) else str(field)
