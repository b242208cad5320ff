"""Minimal clients for the calls we make: customer-service, template and subscription messages, the JS-SDK
ticket, WeCom app messages, the custom menu, and fetching a resident's photo (temporary media, `media/get`,
the same on both APIs). Our own code on httpx rather than wechatpy's clients, whose token fetch ignores the
base URL and whose retry on 40001 recurses without bound.

The token comes from the shared cache (Redis when `REDIS_URL` is set, else the database); a refused
token (40001/42001) is refreshed once and the call retried once. Rate limits (-1 system busy,
45009 quota, 45033 concurrency) are raised to the caller, which reschedules rather than retrying
here: hammering a limited API only prolongs the limit.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from bot import logs
from bot.outbound.tokens import TokenCache, Tokens
from bot.settings import Settings

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
RATE_LIMITS = frozenset({-1, 45009, 45033})  # system busy, quota reached, too many concurrent calls
NOT_JSON = -1000  # our own code for a reply that is not JSON (WeChat uses -1 for "system busy")
NOT_A_FILE = -1001  # our own code: media/get answered JSON without an error (a video's download link)
MEDIA_PATH = "/cgi-bin/media/get"
MEDIA_DEADLINE = 60.0  # seconds a download may take in all (httpx's timeouts are per read)
QRCODE_MAX_BYTES = 2 * 1024 * 1024  # a QR code image is a few tens of kilobytes
T = TypeVar("T")


def shared_tokens(settings: Settings, tokens: Tokens) -> Tokens:
    """Redis in front of the database cache when `REDIS_URL` is set; the database cache otherwise."""
    if settings.redis_url and isinstance(tokens, TokenCache):
        # Imported only when configured: the redis client costs a process ~10 MB it otherwise never uses.
        from bot.outbound.redis_tokens import RedisTokenCache

        return RedisTokenCache(settings.redis_url, tokens, tokens.clock)
    return tokens


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Media:
    """A file fetched from media/get."""

    content: bytes
    content_type: str  # as the API declared it


class MediaTooLarge(Exception):
    """The file is larger than we keep; nothing of it was kept."""


def _check(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 500:
        raise ApiError(-response.status_code, f"HTTP {response.status_code}")
    try:
        body: dict[str, Any] = response.json()
    except ValueError as exc:
        raise ApiError(NOT_JSON, f"not JSON (HTTP {response.status_code})") from exc
    code = int(body.get("errcode") or 0)
    if code:
        raise ApiError(code, str(body.get("errmsg", "")))
    return body


def _msgid(body: dict[str, Any]) -> str | None:
    value = body.get("msgid")
    return str(value)[:32] if isinstance(value, int | str) and str(value) else None


class _Client(ABC):
    app: str

    def __init__(self, base_url: str, tokens: Tokens, http: httpx.Client) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.http = http

    def close(self) -> None:
        """Close the Redis connection this client opened, if any (the HTTP client is the caller's)."""
        close = getattr(self.tokens, "close", None)  # RedisTokenCache's (the database cache holds nothing)
        if close is not None:
            close()

    @abstractmethod
    def _fetch_token(self) -> tuple[str, int]:
        """Fetch a new token from this app's token endpoint."""

    def call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST with the shared token; on a refused token refresh it once and retry once."""
        return self._with_token(lambda token: self._post(path, payload, token))

    def get_media(self, media_id: str, *, max_bytes: int) -> Media:
        """A temporary media file (a resident's photo) by its MediaId; MediaTooLarge past `max_bytes`,
        ApiError for the API's refusals (40007: unknown or expired, WeChat keeps them three days)."""
        return self._with_token(lambda token: self._get_media(media_id, token, max_bytes))

    def _with_token(self, request: Callable[[str], T]) -> T:
        token = self.tokens.get(self.app, self._fetch_token)
        logs.remember_token(token)
        try:
            return request(token)
        except ApiError as exc:
            if exc.code not in TOKEN_ERRORS:
                raise
            log.info("%s token refused (%s); refreshing", self.app, exc.code)
            fresh = self.tokens.get(self.app, self._fetch_token, stale=token)
            logs.remember_token(fresh)
            return request(fresh)

    def _get_media(self, media_id: str, token: str, max_bytes: int) -> Media:
        params = {"access_token": token, "media_id": media_id}
        started = time.monotonic()
        with self.http.stream("GET", f"{self.base_url}{MEDIA_PATH}", params=params) as response:
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if response.status_code >= 400 or kind in ("application/json", "text/plain", "text/html"):
                response.read()  # an error answer: a few bytes of JSON
                _check(response)
                raise ApiError(NOT_A_FILE, "media/get answered JSON, not a file")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise MediaTooLarge(f"{declared} bytes")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise MediaTooLarge(f"more than {max_bytes} bytes")
                if time.monotonic() - started > MEDIA_DEADLINE:
                    raise httpx.ReadTimeout("media download took too long")
                chunks.append(chunk)
        return Media(b"".join(chunks), kind)

    def _post(self, path: str, payload: dict[str, Any], token: str) -> dict[str, Any]:
        response = self.http.post(f"{self.base_url}{path}", params={"access_token": token}, json=payload)
        return _check(response)


class WeChatApi(_Client):
    """The official account."""

    def __init__(self, settings: Settings, tokens: Tokens, http: httpx.Client) -> None:
        super().__init__(settings.wechat_api_base_url, shared_tokens(settings, tokens), http)
        self.app = f"wechat:{settings.wechat_app_id}"
        # Template ids by purpose (bot/services/outbox.py); "" when not configured.
        self.templates = {
            "result": settings.wechat_template_result,
            "reminder": settings.wechat_template_reminder,
            # Follow-up questions, progress and 回头看 answers share the result template's fields.
            "followup": settings.wechat_template_followup or settings.wechat_template_result,
            "notice": settings.wechat_template_result,
        }
        # Subscription templates (订阅通知) by purpose, and the order of the ways out past 48 hours.
        self.subscriptions = dict(settings.wechat_subscribe_templates)
        self.delivery_order = tuple(settings.wechat_delivery_order)
        self.app_id = settings.wechat_app_id
        self.secret = settings.wechat_app_secret.get_secret_value()
        self.qrcode_image_base_url = settings.wechat_qrcode_image_base_url.rstrip("/")

    def _fetch_token(self) -> tuple[str, int]:
        body = _check(
            self.http.get(
                f"{self.base_url}/cgi-bin/token",
                params={"grant_type": "client_credential", "appid": self.app_id, "secret": self.secret},
            )
        )
        return str(body["access_token"]), int(body.get("expires_in", 7200))

    def send_text(self, openid: str, text: str) -> None:
        self.call("/cgi-bin/message/custom/send", {"touser": openid, "msgtype": "text", "text": {"content": text}})

    def send_template(self, openid: str, template_id: str, data: dict[str, Any], url: str | None = None) -> str | None:
        """A template message; returns its msgid, which WeChat's TEMPLATESENDJOBFINISH report names."""
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if url:
            payload["url"] = url
        return _msgid(self.call("/cgi-bin/message/template/send", payload))

    def send_subscription(self, openid: str, template_id: str, data: dict[str, Any]) -> str | None:
        """A subscription notification (订阅通知, `bizsend`); its msgid when WeChat answers one (its
        documentation shows none: the report is then matched by template)."""
        payload = {"touser": openid, "template_id": template_id, "data": data}
        return _msgid(self.call("/cgi-bin/message/subscribe/bizsend", payload))

    def jsapi_ticket(self) -> str:
        """The JS-SDK ticket, shared like the access token (7,200 s; fetched by one process at a time)."""
        token = self.tokens.get(self.app, self._fetch_token)
        logs.remember_token(token)
        try:
            ticket = self.tokens.get(self.ticket_app, lambda: self._fetch_ticket(token))
        except ApiError as exc:
            if exc.code not in TOKEN_ERRORS:
                raise
            # Refreshed outside the ticket's refresh: one cache lock must not wait inside another.
            fresh = self.tokens.get(self.app, self._fetch_token, stale=token)
            logs.remember_token(fresh)
            ticket = self.tokens.get(self.ticket_app, lambda: self._fetch_ticket(fresh))
        logs.remember_token(ticket)  # it signs pages for our domain: kept out of logs like a token
        return ticket

    @property
    def ticket_app(self) -> str:
        return f"jsapi:{self.app_id}"

    def _fetch_ticket(self, token: str) -> tuple[str, int]:
        body = _check(
            self.http.get(f"{self.base_url}/cgi-bin/ticket/getticket", params={"access_token": token, "type": "jsapi"})
        )
        return str(body["ticket"]), int(body.get("expires_in", 7200))

    def create_menu(self, menu: dict[str, Any]) -> None:
        self.call("/cgi-bin/menu/create", menu)

    def create_qrcode(self, scene: str) -> tuple[str, str]:
        """A permanent QR code with a string scene (QR_LIMIT_STR_SCENE): its (ticket, url)."""
        payload = {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}}
        body = self.call("/cgi-bin/qrcode/create", payload)
        return str(body["ticket"]), str(body.get("url") or "")

    def qrcode_image(self, ticket: str, *, max_bytes: int = QRCODE_MAX_BYTES) -> bytes:
        """The code's image (showqrcode, no token: the ticket is the credential), at most `max_bytes`."""
        response = self.http.get(f"{self.qrcode_image_base_url}/cgi-bin/showqrcode", params={"ticket": ticket})
        if response.status_code != 200 or not response.content or len(response.content) > max_bytes:
            raise ApiError(-1, f"showqrcode answered HTTP {response.status_code}, {len(response.content)} bytes")
        return response.content


class WeComApi(_Client):
    """The WeCom app."""

    def __init__(self, settings: Settings, tokens: Tokens, http: httpx.Client) -> None:
        super().__init__(settings.wecom_api_base_url, shared_tokens(settings, tokens), http)
        self.app = f"wecom:{settings.wecom_corp_id}:{settings.wecom_agent_id}"
        self.corp_id = settings.wecom_corp_id
        self.agent_id = settings.wecom_agent_id
        self.secret = settings.wecom_secret.get_secret_value()

    def _fetch_token(self) -> tuple[str, int]:
        body = _check(
            self.http.get(
                f"{self.base_url}/cgi-bin/gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret}
            )
        )
        return str(body["access_token"]), int(body.get("expires_in", 7200))

    def send_text(self, userids: list[str], text: str) -> set[str]:
        """One call for up to 1,000 users; returns the userids WeCom reported invalid (`invaliduser`)."""
        body = self.call(
            "/cgi-bin/message/send",
            {
                "touser": "|".join(userids),
                "msgtype": "text",
                "agentid": int(self.agent_id) if self.agent_id.isdigit() else self.agent_id,
                "text": {"content": text},
            },
        )
        return {user for user in str(body.get("invaliduser") or "").split("|") if user}
