"""WeChat JS-SDK page signatures (JS-SDK 说明文档, 附录1: JS-SDK使用权限签名算法).

A page that calls `wx.config` must carry a signature over the account's jsapi ticket, a nonce, a timestamp
and the page's own URL as the browser has it (query included, `#fragment` not): sha1 of
`jsapi_ticket=…&noncestr=…&timestamp=…&url=…`, lowercase hex. The ticket is fetched and cached by
`WeChatApi.jsapi_ticket`; the page must be on a domain listed under 公众号设置 → 功能设置 → JS接口安全域名.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any


def signature(*, ticket: str, noncestr: str, timestamp: int, url: str) -> str:
    page = url.split("#", 1)[0]
    text = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={page}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def page_config(*, app_id: str, ticket: str, url: str, timestamp: int, open_tags: list[str]) -> dict[str, Any]:
    """What `wx.config` takes for this page: a fresh nonce, signed with the ticket for `url`."""
    nonce = secrets.token_hex(8)
    return {
        "appId": app_id,
        "timestamp": timestamp,
        "nonceStr": nonce,
        "signature": signature(ticket=ticket, noncestr=nonce, timestamp=timestamp, url=url),
        # jsApiList may not be empty; open tags need none of its APIs.
        "jsApiList": ["checkJsApi"],
        "openTagList": open_tags,
    }
