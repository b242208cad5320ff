"""Cross-site request forgery guard for the admin (sqladmin has none).

A state-changing request (POST, PUT, PATCH, DELETE) under /admin is let through only when
1. it comes from the admin's own origin: its Origin header (or, without one, its Referer) names the
   request's own scheme://host:port or PUBLIC_BASE_URL's. The SameSite=Lax cookie alone does not stop
   a page on the same *site* (another port, a sibling subdomain), and
2. it carries the session's token, as the form field `csrf_token` or the `X-CSRF-Token` header. The
   token lives in the signed session cookie: a sibling subdomain can plant a cookie but cannot sign one.
Anything else is answered 403 and never reaches sqladmin. The templates put the token in every page
(`csrf_token(request)`); a small script adds it to each form and to jQuery's requests.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_KEY = "csrf"
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BODY_BYTES = 1024 * 1024  # the admin's forms are a few fields; nothing here uploads files
REFUSED = "请求来源无法确认，操作未执行。请刷新页面后重试。"
TOO_BIG = "提交的内容过大。"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def csrf_token(request: Request) -> str:
    """This session's token, made on first use (the session cookie then carries it)."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


def origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, default ports filled in; None if it has no usable origin."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


class CSRFMiddleware:
    """Sits inside Starlette's SessionMiddleware on the admin app, so the session is at hand."""

    def __init__(self, app: ASGIApp, public_base_url: str) -> None:
        self.app = app
        self.public_origin = origin_of(public_base_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        body, complete = await _read_body(receive)
        if not complete:
            await PlainTextResponse(TOO_BIG, status_code=413)(scope, receive, send)
            return
        replay = _replaying(body, receive)
        request = Request(scope, _replaying(body, receive))
        if not (self._same_origin(request) and await _token_matches(request)):
            await PlainTextResponse(REFUSED, status_code=403)(scope, receive, send)
            return
        await self.app(scope, replay, send)

    def _same_origin(self, request: Request) -> bool:
        claimed = request.headers.get("origin")
        if claimed is None:
            referer = request.headers.get("referer")
            if referer is None:
                return True  # not a browser's cross-site request (they send Origin); the token decides
            claimed = referer
        origin = origin_of(claimed)
        return origin is not None and origin in {origin_of(str(request.base_url)), self.public_origin}


async def _token_matches(request: Request) -> bool:
    expected = request.session.get(SESSION_KEY)
    if not isinstance(expected, str) or not expected:
        return False
    given = request.headers.get(HEADER)
    if given is None and _is_form(request.headers):
        value = (await request.form()).get(FIELD)
        given = value if isinstance(value, str) else None
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


def _is_form(headers: Headers) -> bool:
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    return kind in {"application/x-www-form-urlencoded", "multipart/form-data"}


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body, or what was read when it passed MAX_BODY_BYTES (and False)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"", False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out the body already read, then defers to the real one (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
