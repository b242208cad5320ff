"""/subscribe?user=<signed token>: where an official-account user turns on subscription notifications.

The bot links here (通知设置). The page is made for phones and WeChat's browser: one `wx-open-subscribe`
button per kind of message (WeChat shows its own popup and tells /wechat what was chosen), what the
person chose so far, and `wx.config` signed for this very URL with the account's jsapi ticket
(bot/outbound/jssdk.py). The token is the person's id and its HMAC, so nobody else's page opens.
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from bot.outbound import jssdk
from bot.outbound.api import ApiError
from bot.runtime import Runtime, get_runtime
from bot.services import subscriptions
from storage.models import Person

log = logging.getLogger(__name__)
router = APIRouter()

STATIC = Path(__file__).parent / "static"
ASSETS = {"subscribe.css": "text/css; charset=utf-8", "subscribe.js": "text/javascript; charset=utf-8"}
JSSDK = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"
# WeChat's script and the open tag it renders come from qq.com; our own script reads nothing typed by anyone.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self' https://res.wx.qq.com https://res2.wx.qq.com; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data: https://*.qq.com; "
        "connect-src 'self' https://*.qq.com; frame-src https://*.qq.com; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
    "Cache-Control": "no-store",
}
TITLE = "服务通知设置"
FORBIDDEN = "链接无效或不完整。请在公众号里发送「通知设置」，点开回复里的链接。"
NOT_OFFERED = "本公众号暂未开通服务通知。"
NOT_NEEDED = "企业微信里的消息随时都能收到，不需要开启服务通知。"
UNAVAILABLE = "页面暂时打不开，请稍后再试。"
STATES = {subscriptions.ACCEPTED: ("on", "已开启"), subscriptions.REJECTED: ("off", "未开启")}


def _message_page(status: int, text: str) -> HTMLResponse:
    body = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{TITLE}</title><link rel="stylesheet" href="/subscribe/static/subscribe.css"></head>'
        f'<body><main><h1>{TITLE}</h1><p class="lead">{html.escape(text)}</p></main></body></html>'
    )
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


@router.get("/subscribe/static/{name}")
def asset(name: str) -> Response:
    if name not in ASSETS:
        return Response(status_code=404)
    return Response((STATIC / name).read_bytes(), media_type=ASSETS[name], headers={"Cache-Control": "max-age=300"})


@router.get("/subscribe")
def page(request: Request, user: str | None = None, runtime: Runtime = Depends(get_runtime)) -> HTMLResponse:
    settings = runtime.settings
    person_id = subscriptions.person_in(user, secret=settings.secret_key.get_secret_value())
    if person_id is None:
        return _message_page(403, FORBIDDEN)
    with runtime.factory() as db:
        person = db.get(Person, person_id)
        if person is None:
            return _message_page(403, FORBIDDEN)
        if person.channel != "wechat":
            return _message_page(200, NOT_NEEDED)
        templates = settings.wechat_subscribe_templates
        kinds = subscriptions.kinds_of(db, person_id=person_id, templates=templates)
    if not kinds:
        return _message_page(200, NOT_OFFERED)
    try:
        ticket = runtime.wechat_api.jsapi_ticket()
    except (ApiError, httpx.HTTPError) as exc:
        log.warning("subscribe page: no jsapi ticket (%s)", exc if isinstance(exc, ApiError) else type(exc).__name__)
        return _message_page(503, UNAVAILABLE)
    # Signed for the URL the browser shows: our public origin, this path and query exactly as requested.
    query = request.url.query
    url = f"{settings.public_base_url.rstrip('/')}{request.url.path}{'?' + query if query else ''}"
    config = jssdk.page_config(
        app_id=settings.wechat_app_id,
        ticket=ticket,
        url=url,
        timestamp=int(runtime.clock.now().timestamp()),
        open_tags=["wx-open-subscribe"],
    )
    rows = "\n".join(_row(kind, template.template_id, answer) for kind, template, answer in kinds)
    body = (
        (STATIC / "subscribe.html")
        .read_text(encoding="utf-8")
        .format(
            rows=rows,
            # In a <script type="application/json">: nothing in it may close the element.
            config=json.dumps(config).replace("<", "\\u003c"),
            jssdk=JSSDK,
        )
    )
    return HTMLResponse(body, headers=SECURITY_HEADERS)


def _row(kind: str, template_id: str, answer: str | None) -> str:
    state, label = STATES.get(answer or "", ("off", "未开启"))
    tid = html.escape(template_id)
    return (
        f'<li data-template="{tid}">\n'
        f'  <span class="name">{html.escape(subscriptions.KIND_NAMES[kind])}</span>\n'
        f'  <span class="state {state}">{label}</span>\n'
        f'  <wx-open-subscribe template="{tid}">\n'
        '    <script type="text/wxtag-template" slot="style"><style>'
        ".open{display:block;width:100%;padding:12px 0;font-size:17px;border:0;border-radius:8px;"
        "color:#fff;background:#07c160}</style></script>\n"
        '    <script type="text/wxtag-template"><button class="open">开启</button></script>\n'
        "  </wx-open-subscribe>\n"
        "</li>"
    )
