"""Local fake of the WeChat official-account API and the WeCom (企业微信) API.

Tests and benchmarks point ``WECHAT_API_BASE_URL`` and ``WECOM_API_BASE_URL`` at one
:class:`FakeWeChat` so that the bot can be exercised end to end without the network. The fake
answers like the real APIs (JSON bodies, ``errcode`` conventions, ``access_token`` as a query
parameter), records what it was sent, and can be told to fail in the ways the real services fail.

It is built on the standard library's ``ThreadingHTTPServer`` (one thread per connection, HTTP/1.1
keep-alive) so it has no dependencies and stays cheap per request.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import math
import socket
import socketserver
import struct
import sys
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "CUSTOM_SEND_PATH",
    "MEDIA_GET_PATH",
    "MENU_CREATE_PATH",
    "QRCODE_CREATE_PATH",
    "QRCODE_SHOW_PATH",
    "SEND_PATHS",
    "STABLE_TOKEN_PATH",
    "SUBSCRIBE_SEND_PATH",
    "TEMPLATE_SEND_PATH",
    "TICKET_PATH",
    "TOKEN_PATH",
    "TOKEN_PATHS",
    "WECOM_SEND_PATH",
    "WECOM_TOKEN_PATH",
    "Call",
    "FakeWeChat",
    "png",
]

TOKEN_PATH = "/cgi-bin/token"
STABLE_TOKEN_PATH = "/cgi-bin/stable_token"
WECOM_TOKEN_PATH = "/cgi-bin/gettoken"
CUSTOM_SEND_PATH = "/cgi-bin/message/custom/send"
TEMPLATE_SEND_PATH = "/cgi-bin/message/template/send"
SUBSCRIBE_SEND_PATH = "/cgi-bin/message/subscribe/bizsend"
WECOM_SEND_PATH = "/cgi-bin/message/send"
MENU_CREATE_PATH = "/cgi-bin/menu/create"
MEDIA_GET_PATH = "/cgi-bin/media/get"  # the same path on both APIs; the token says which one is asked
TICKET_PATH = "/cgi-bin/ticket/getticket"
QRCODE_CREATE_PATH = "/cgi-bin/qrcode/create"
QRCODE_SHOW_PATH = "/cgi-bin/showqrcode"  # on mp.weixin.qq.com in real life; no token, the ticket is the key

TOKEN_PATHS = (TOKEN_PATH, STABLE_TOKEN_PATH, WECOM_TOKEN_PATH)
MAX_TEXT_BYTES = 2048  # a text message's content, in UTF-8 bytes (errcode 45002 past it)
SEND_PATHS = (CUSTOM_SEND_PATH, TEMPLATE_SEND_PATH, SUBSCRIBE_SEND_PATH, WECOM_SEND_PATH)

_OA = "oa"
_WECOM = "wecom"
_ANY = "any"  # an endpoint both APIs have at the same path: either kind of token
_JSON_TYPE = "application/json; charset=utf-8"
_TEXT_TYPE = "text/plain; charset=utf-8"

# errmsg texts for the codes the fake produces or that tests commonly inject.
_ERRMSG: dict[int, str] = {
    -1: "system error",
    0: "ok",
    40001: "invalid credential",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40016: "invalid button size",
    40037: "invalid template_id",
    40097: "invalid args",
    40056: "invalid agentid",
    40125: "invalid appsecret",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    42001: "access_token expired",
    43001: "require GET method",
    43002: "require POST method",
    43004: "require subscribe",
    44004: "empty content",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45033: "api concurrent out of limit",
    43101: "user refuse to accept the msg",
    45047: "out of response count limit",
    47001: "data format error",
    47003: "argument invalid! data.thing1.value invalid",
    60020: "not allow to access from your ip",
    81013: "user & party & tag all invalid",
}

_OA_MSGTYPES = frozenset(
    {
        "text",
        "image",
        "voice",
        "video",
        "music",
        "news",
        "mpnews",
        "mpnewsarticle",
        "msgmenu",
        "wxcard",
        "miniprogrampage",
    }
)
_WECOM_MSGTYPES = frozenset(
    {
        "text",
        "image",
        "voice",
        "video",
        "file",
        "textcard",
        "news",
        "mpnews",
        "markdown",
        "miniprogram_notice",
        "template_card",
    }
)


@dataclass(frozen=True, slots=True)
class Binary:
    """A reply that is a file (media/get), not JSON."""

    content: bytes
    content_type: str


_Reply = tuple[int, dict[str, Any] | str | Binary]


def _error(code: int, errmsg: str | None = None) -> _Reply:
    """Build the HTTP-200 ``{"errcode", "errmsg"}`` reply the real APIs use for business errors."""
    return 200, {"errcode": code, "errmsg": errmsg or _ERRMSG.get(code, "fake_wechat injected error")}


_OK: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}


@dataclass(frozen=True, slots=True)
class Call:
    """One request the fake received, with the reply it gave, so tests can assert on traffic."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    time: float
    status: int
    response: dict[str, Any] | str | Binary
    injected: bool = False

    @property
    def ok(self) -> bool:
        """True when the reply was HTTP 200 and carried no error code (a successful API call), or a file."""
        if self.status == 200 and isinstance(self.response, Binary):
            return True
        return self.status == 200 and isinstance(self.response, dict) and self.response.get("errcode", 0) == 0

    @property
    def errcode(self) -> int | None:
        """The reply's ``errcode`` (0 for success), or None when the reply was not JSON."""
        if not isinstance(self.response, dict):
            return None
        code = self.response.get("errcode", 0)
        return code if isinstance(code, int) else None


@dataclass(slots=True)
class _Injection:
    """A queued ``fail_next`` entry; ``remaining`` counts the calls it still applies to."""

    errcode: int | None
    status: int | None
    delay: float
    body: dict[str, Any] | str | None
    remaining: int

    @property
    def responds(self) -> bool:
        """Whether this entry replaces the reply (otherwise it only adds delay)."""
        return self.errcode is not None or self.status is not None or self.body is not None

    def reply(self) -> _Reply:
        """The reply this injection stands in for the real one."""
        status = self.status if self.status is not None else 200
        if self.body is not None:
            return status, self.body
        if self.errcode is not None:
            return status, _error(self.errcode)[1]
        return status, f"fake_wechat injected HTTP {status}"


@dataclass(frozen=True, slots=True)
class _Rule:
    """A ``fail_for`` rule: calls to ``path`` whose JSON body satisfies ``predicate`` fail."""

    path: str
    predicate: Callable[[Any], bool]
    errcode: int
    errmsg: str | None


@dataclass(slots=True)
class _Token:
    """An issued, still valid access token: which API it belongs to and when it lapses."""

    kind: str
    expires_at: float


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks open connections so ``stop()`` can close keep-alive ones."""

    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, fake: FakeWeChat) -> None:
        """Bind to an OS-chosen free port on 127.0.0.1."""
        self.fake = fake
        self.stopping = threading.Event()
        self._conn_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._closing = False
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host name (slow in sandboxes)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.server_address[1]

    def track(self, conn: socket.socket) -> None:
        """Remember an open connection; one accepted while stopping is shut at once."""
        with self._conn_lock:
            if not self._closing:
                self._connections.add(conn)
                return
        _shutdown_socket(conn)

    def untrack(self, conn: socket.socket) -> None:
        """Forget a connection whose handler finished."""
        with self._conn_lock:
            self._connections.discard(conn)

    def close_connections(self) -> None:
        """Shut every open connection so idle keep-alive handler threads see EOF and exit."""
        with self._conn_lock:
            self._closing = True
            conns = list(self._connections)
        for conn in conns:
            _shutdown_socket(conn)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore connection errors (clients that timed out or went away); report anything else."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


def _shutdown_socket(conn: socket.socket) -> None:
    """Shut a socket both ways, ignoring sockets that are already gone."""
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Thin HTTP adapter: reads the request, lets :class:`FakeWeChat` answer, writes one buffer."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16

    _fields: dict[str, str]

    def setup(self) -> None:
        """Register the connection with the server so ``stop()`` can close it."""
        super().setup()
        cast(_Server, self.server).track(self.connection)

    def finish(self) -> None:
        """Unregister the connection."""
        try:
            super().finish()
        finally:
            cast(_Server, self.server).untrack(self.connection)

    def parse_request(self) -> bool:
        """Parse the request line and headers without the ``email`` parser.

        The stock implementation builds an ``email.message.Message`` per request, which costs more
        than everything else the fake does; this keeps the parts HTTP/1.x clients rely on
        (keep-alive, ``Connection: close``, ``Expect: 100-continue``). Headers go to ``_fields``.
        """
        self.command = ""  # until the request line is known (send_error reads it)
        self.request_version = "HTTP/1.0"  # so error replies carry a status line; 0.9 is not supported
        self.close_connection = True
        raw_requestline: bytes = self.raw_requestline  # type: ignore[attr-defined]  # set by the base class
        self.requestline = str(raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3:
            self.send_error(400, f"Bad request syntax ({self.requestline!r})")
            return False
        command, path, version = words
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            self.send_error(505, f"Unsupported HTTP version ({version!r})")
            return False
        self.command, self.path, self.request_version = command, path, version
        fields: dict[str, str] = {}
        while True:
            line = self.rfile.readline(65537)
            if len(line) > 65536 or len(fields) > 100:
                self.send_error(431, "Request header fields too large")
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            name, colon, value = line.decode("iso-8859-1").partition(":")
            if not colon:
                self.send_error(400, "Bad header line")
                return False
            fields[name.strip().lower()] = value.strip()
        self._fields = fields
        connection = fields.get("connection", "").lower()
        self.close_connection = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
        if fields.get("expect", "").lower() == "100-continue" and version == "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def do_GET(self) -> None:
        """Serve a GET request."""
        self._serve("GET")

    def do_POST(self) -> None:
        """Serve a POST request."""
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: the fake records calls instead of logging them."""

    def _serve(self, method: str) -> None:
        """Read the body, compute the reply and send it with an explicit Content-Length."""
        raw = self._read_body()
        if raw is None:
            self.send_error(400, "bad request body")
            return
        server = cast(_Server, self.server)
        status, payload, content_type = server.fake._handle(method, self.path, raw, server.stopping)
        self.send_response_only(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _read_body(self) -> bytes | None:
        """Return the request body (Content-Length or chunked), or None if it is malformed."""
        if "chunked" in self._fields.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        try:
            length = int(self._fields.get("content-length") or 0)
        except ValueError:
            return None
        return self.rfile.read(length) if length > 0 else b""


class FakeWeChat:
    """In-process fake of the official-account and WeCom HTTP APIs, served on 127.0.0.1.

    Use as a context manager (``with FakeWeChat() as fake: ...``) or call ``start()``/``stop()``.
    Every request is answered like the real API and recorded; failures can be injected with
    :meth:`fail_next`, :meth:`fail_for` and :meth:`delay_all`. All methods are thread-safe.

    Tokens: ``/cgi-bin/token`` issues a new token on every call and leaves older ones valid (the
    real API keeps the previous one valid for a while); ``/cgi-bin/stable_token`` and
    ``/cgi-bin/gettoken`` return the current token while it is valid. Official-account tokens are
    only accepted by official-account endpoints and WeCom tokens only by WeCom endpoints.
    """

    def __init__(
        self,
        *,
        record_bodies: bool = True,
        token_ttl: float = 7200,
        appid: str | None = None,
        secret: str | None = None,
        corpid: str | None = None,
        corpsecret: str | None = None,
    ) -> None:
        """Configure the fake.

        ``record_bodies=False`` keeps only counters (for long benchmarks); ``token_ttl`` is the
        lifetime of issued tokens in seconds; the credentials, when given, are checked by the token
        endpoints (when None, any non-empty value is accepted).
        """
        self._record_bodies = record_bodies
        self._token_ttl = float(token_ttl)
        self._appid = appid
        self._secret = secret
        self._corpid = corpid
        self._corpsecret = corpsecret

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._lifecycle = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

        self._calls: list[Call] = []
        self._request_counts: Counter[str] = Counter()
        self._send_counts: Counter[str] = Counter()
        self._deliveries: Counter[str] = Counter()
        self._menu: dict[str, Any] | None = None

        self._tokens: dict[str, _Token] = {}
        self._dead_tokens: dict[str, int] = {}
        self._stable: dict[str, str] = {}
        self._wecom_current: dict[tuple[str, str], str] = {}
        self._media: dict[tuple[str, str], Binary] = {}  # (api, media_id) -> the file media/get serves
        self._oa_seq = itertools.count(1)
        self._wecom_seq = itertools.count(1)
        self._msgid_seq = itertools.count(1000001)
        self._ticket_seq = itertools.count(1)
        self._subscribe_msgids = False
        self._qrcodes: dict[str, str] = {}  # ticket -> scene of the permanent codes made

        self._latency = 0.0
        self._injections: dict[str, deque[_Injection]] = {}
        self._rules: list[_Rule] = []

        self._routes: dict[str, tuple[str, str | None, Callable[[dict[str, str], Any], _Reply]]] = {
            TOKEN_PATH: ("GET", None, self._token),
            STABLE_TOKEN_PATH: ("POST", None, self._stable_token),
            WECOM_TOKEN_PATH: ("GET", None, self._wecom_token),
            CUSTOM_SEND_PATH: ("POST", _OA, self._custom_send),
            TEMPLATE_SEND_PATH: ("POST", _OA, self._template_send),
            SUBSCRIBE_SEND_PATH: ("POST", _OA, self._subscribe_send),
            TICKET_PATH: ("GET", _OA, self._ticket),
            WECOM_SEND_PATH: ("POST", _WECOM, self._wecom_send),
            MENU_CREATE_PATH: ("POST", _OA, self._menu_create),
            MEDIA_GET_PATH: ("GET", _ANY, self._media_get),
            QRCODE_CREATE_PATH: ("POST", _OA, self._qrcode_create),
            QRCODE_SHOW_PATH: ("GET", None, self._qrcode_show),
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Start serving on a free port in a background thread; returns self for chaining."""
        with self._lifecycle:
            if self._server is not None:
                raise RuntimeError("FakeWeChat is already running")
            server = _Server(self)
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-wechat", daemon=True
            )
            thread.start()
            self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving, wake delayed handlers and close open connections; safe to call twice."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            if server is None or thread is None:
                return
            self._server = self._thread = None
            server.stopping.set()
            server.shutdown()
            server.close_connections()
            server.server_close()
            thread.join()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        if self._server is None:
            raise RuntimeError("FakeWeChat is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        """Start the server for the duration of a ``with`` block."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server when the ``with`` block ends."""
        self.stop()

    # ------------------------------------------------------------------ tokens

    def expire_tokens(self, code: int = 42001) -> None:
        """Invalidate every issued token; later calls with them answer ``code`` (42001 = expired)."""
        with self._lock:
            for token in self._tokens:
                self._dead_tokens[token] = code
            self._tokens.clear()
            self._stable.clear()
            self._wecom_current.clear()

    # ------------------------------------------------------------------ failure injection

    def fail_next(
        self,
        path: str,
        errcode: int | None = None,
        status: int | None = None,
        times: int = 1,
        delay: float | None = None,
        body: dict[str, Any] | str | None = None,
    ) -> None:
        """Make the next ``times`` calls to ``path`` fail.

        With ``errcode`` the reply is HTTP 200 ``{"errcode": errcode, "errmsg": ...}``; with
        ``status`` it is that HTTP status with a text body (or the JSON error if ``errcode`` is also
        given); ``body`` (dict → JSON, str → text) overrides the reply body. ``delay`` sleeps that
        many seconds first; with only ``delay`` the call is then answered normally (a slow call).
        Entries queue up per path in the order they were added.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        if status is not None and not 100 <= status <= 599:
            raise ValueError(f"invalid HTTP status {status}")
        if delay is not None and delay < 0:
            raise ValueError("delay must be >= 0")
        if errcode is None and status is None and delay is None and body is None:
            raise ValueError("fail_next needs errcode, status, delay or body")
        injection = _Injection(errcode, status, delay or 0.0, body, times)
        with self._lock:
            self._injections.setdefault(path, deque()).append(injection)

    def fail_for(self, path: str, predicate: Callable[[Any], bool], errcode: int, errmsg: str | None = None) -> None:
        """Fail every call to ``path`` whose JSON body satisfies ``predicate`` until cleared.

        The rule is checked after the access token, so it models per-recipient errors such as
        45015 for one openid. ``predicate`` receives the parsed JSON body (None for GET calls).
        """
        with self._lock:
            self._rules.append(_Rule(path, predicate, errcode, errmsg))

    def delay_all(self, seconds: float) -> None:
        """Add ``seconds`` of latency to every call (0 removes it)."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        with self._lock:
            self._latency = float(seconds)

    def clear_failures(self) -> None:
        """Drop all ``fail_next`` entries, ``fail_for`` rules and the ``delay_all`` latency."""
        with self._lock:
            self._injections.clear()
            self._rules.clear()
            self._latency = 0.0

    # ------------------------------------------------------------------ media

    def add_media(
        self, media_id: str, content: bytes, content_type: str = "image/png", *, channel: str = "wechat"
    ) -> None:
        """Serve ``content`` at media/get for ``media_id`` to tokens of ``channel``'s API (wechat or wecom)."""
        with self._lock:
            self._media[(_api_of(channel), media_id)] = Binary(content, content_type)

    def expire_media(self, media_id: str) -> None:
        """The media is gone (WeChat keeps temporary media three days): media/get answers 40007."""
        with self._lock:
            for key in [k for k in self._media if k[1] == media_id]:
                del self._media[key]

    # ------------------------------------------------------------------ inspection

    def calls(self, path: str | None = None) -> list[Call]:
        """Every recorded call (optionally only those to ``path``), oldest first."""
        calls = self._recorded()
        return calls if path is None else [c for c in calls if c.path == path]

    def sent_texts(self, to: str | None = None) -> list[tuple[str, str]]:
        """``(touser, content)`` of successfully delivered text messages, oldest first.

        Covers official-account customer-service sends and WeCom app sends; a WeCom ``touser``
        of ``"a|b"`` yields one entry per user. ``to`` keeps only one recipient.
        """
        out: list[tuple[str, str]] = []
        for call in self._recorded():
            if call.path not in (CUSTOM_SEND_PATH, WECOM_SEND_PATH) or not call.ok or call.injected:
                continue
            body = call.json
            if not isinstance(body, dict) or body.get("msgtype") != "text":
                continue
            users = _recipients(call.path, body)
            content = str(body["text"]["content"])
            out.extend((user, content) for user in users if to is None or user == to)
        return out

    def template_sends(self, to: str | None = None) -> list[dict[str, Any]]:
        """Request bodies of successful template-message sends (optionally to one openid)."""
        return [
            cast(dict[str, Any], call.json)
            for call in self._recorded()
            if call.path == TEMPLATE_SEND_PATH
            and call.ok
            and not call.injected
            and (to is None or call.json.get("touser") == to)
        ]

    def subscription_sends(self, to: str | None = None) -> list[dict[str, Any]]:
        """Request bodies of successful subscription-notification sends (``bizsend``), optionally to one openid."""
        return [
            cast(dict[str, Any], call.json)
            for call in self._recorded()
            if call.path == SUBSCRIBE_SEND_PATH
            and call.ok
            and not call.injected
            and (to is None or call.json.get("touser") == to)
        ]

    def answer_subscribe_msgids(self, on: bool = True) -> None:
        """Make ``bizsend`` answer a ``msgid`` (real WeChat does, though its documentation shows none)."""
        with self._lock:
            self._subscribe_msgids = on

    def token_fetches(self, path: str | None = None) -> int:
        """How many requests hit the token endpoints (or just ``path``), failed ones included."""
        with self._lock:
            if path is not None:
                return self._request_counts[path]
            return sum(self._request_counts[p] for p in TOKEN_PATHS)

    def request_counts(self) -> dict[str, int]:
        """Requests received per path, failed ones included (kept even without recording)."""
        with self._lock:
            return dict(self._request_counts)

    def send_counts(self) -> dict[str, int]:
        """Successful sends per send path (kept even without recording)."""
        with self._lock:
            return dict(self._send_counts)

    def delivery_counts(self) -> dict[str, int]:
        """Successful deliveries per recipient across all send paths (WeCom ``a|b`` counts each)."""
        with self._lock:
            return dict(self._deliveries)

    def wait_for_sends(self, count: int, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` successful sends were received; False on timeout.

        For tests of code that sends from background threads or tasks.
        """
        with self._changed:
            return self._changed.wait_for(lambda: sum(self._send_counts.values()) >= count, timeout)

    @property
    def menu(self) -> dict[str, Any] | None:
        """A copy of the last custom menu successfully created, or None."""
        with self._lock:
            return copy.deepcopy(self._menu)

    def reset(self) -> None:
        """Forget recorded calls, counters and media; tokens, menu and failure rules are kept."""
        with self._lock:
            self._subscribe_msgids = False
            self._calls.clear()
            self._request_counts.clear()
            self._send_counts.clear()
            self._deliveries.clear()
            self._media.clear()

    def _recorded(self) -> list[Call]:
        """Snapshot of the recorded calls; refuses when recording is off, to avoid empty asserts."""
        with self._lock:
            if not self._record_bodies:
                raise RuntimeError("FakeWeChat(record_bodies=False) keeps counters only")
            return list(self._calls)

    # ------------------------------------------------------------------ request handling

    def _handle(self, method: str, target: str, raw: bytes, stopping: threading.Event) -> tuple[int, bytes, str]:
        """Answer one request and record it; returns (status, payload, content type)."""
        received = time.time()
        split = urlsplit(target)
        path = split.path
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        body: Any = None
        parsed = True
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                parsed = False

        with self._lock:
            delay = self._latency
            injection = self._take_injection(path)
        if injection is not None:
            delay += injection.delay
        if delay > 0:
            stopping.wait(delay)

        injected = injection is not None and injection.responds
        try:
            if injection is not None and injected:
                status, response = injection.reply()
            else:
                status, response, injected = self._route(method, path, query, body, parsed)
        except Exception as exc:  # a broken predicate must show up as a failed call, not a hang
            status, response = 500, f"fake_wechat internal error: {exc!r}"

        with self._lock:
            self._request_counts[path] += 1
            if self._record_bodies:
                self._calls.append(Call(method, path, query, body, received, status, response, injected))

        if isinstance(response, Binary):
            return status, response.content, response.content_type
        if isinstance(response, dict):
            return status, json.dumps(response, ensure_ascii=False).encode(), _JSON_TYPE
        return status, response.encode(), _TEXT_TYPE

    def _take_injection(self, path: str) -> _Injection | None:
        """Pop one use of the oldest ``fail_next`` entry for ``path`` (caller holds the lock)."""
        queue = self._injections.get(path)
        if not queue:
            return None
        injection = queue[0]
        injection.remaining -= 1
        if injection.remaining <= 0:
            queue.popleft()
            if not queue:
                del self._injections[path]
        return injection

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, parsed: bool
    ) -> tuple[int, dict[str, Any] | str, bool]:
        """Check method, token, body shape and ``fail_for`` rules, then run the endpoint."""
        route = self._routes.get(path)
        if route is None:
            return 404, {"errcode": 404, "errmsg": f"fake_wechat: no such API {path}"}, False
        route_method, scope, endpoint = route
        if method != route_method:
            return (*_error(43001 if route_method == "GET" else 43002), False)
        if scope is not None:
            token_error = self._check_token(query.get("access_token"), scope)
            if token_error is not None:
                return (*token_error, False)
        if method == "POST" and (not parsed or not isinstance(body, dict)):
            return (*_error(47001), False)
        with self._lock:
            rules = [r for r in self._rules if r.path == path] if self._rules else []
        for rule in rules:
            if rule.predicate(body):
                return (*_error(rule.errcode, rule.errmsg), True)
        return (*endpoint(query, body), False)

    def _check_token(self, token: str | None, scope: str) -> _Reply | None:
        """Validate an access token for an endpoint of API ``scope``; None when it is good."""
        if not token:
            return _error(41001)
        with self._lock:
            issued = self._tokens.get(token)
            if issued is None:
                return _error(self._dead_tokens.get(token, 40001))
            if issued.kind != scope and scope != _ANY:
                return _error(40001)
            if time.monotonic() >= issued.expires_at:
                del self._tokens[token]
                self._dead_tokens[token] = 42001
                return _error(42001)
        return None

    def _issue(self, kind: str) -> str:
        """Create and register a new token of ``kind`` (caller holds the lock)."""
        seq = self._oa_seq if kind == _OA else self._wecom_seq
        token = f"{'oa' if kind == _OA else 'wecom'}-token-{next(seq)}"
        self._tokens[token] = _Token(kind, time.monotonic() + self._token_ttl)
        return token

    def _remaining(self, token: str) -> int | None:
        """Whole seconds left on a valid token, or None if it is no longer valid (lock held)."""
        issued = self._tokens.get(token)
        if issued is None:
            return None
        left = issued.expires_at - time.monotonic()
        return math.ceil(left) if left > 0 else None

    def _oa_credentials_error(self, appid: Any, secret: Any) -> _Reply | None:
        """Check official-account appid/secret the way the token endpoints do."""
        if not appid or not isinstance(appid, str):
            return _error(41002)
        if not secret or not isinstance(secret, str):
            return _error(41004)
        if self._appid is not None and appid != self._appid:
            return _error(40013)
        if self._secret is not None and secret != self._secret:
            return _error(40125)
        return None

    def _token(self, query: dict[str, str], body: Any) -> _Reply:
        """``GET /cgi-bin/token``: issue a fresh official-account token."""
        if query.get("grant_type") != "client_credential":
            return _error(40002)
        error = self._oa_credentials_error(query.get("appid"), query.get("secret"))
        if error is not None:
            return error
        with self._lock:
            token = self._issue(_OA)
        return 200, {"access_token": token, "expires_in": math.ceil(self._token_ttl)}

    def _stable_token(self, query: dict[str, str], body: Any) -> _Reply:
        """``POST /cgi-bin/stable_token``: current token per appid, new one on force_refresh."""
        if body.get("grant_type") != "client_credential":
            return _error(40002)
        appid, secret = body.get("appid"), body.get("secret")
        error = self._oa_credentials_error(appid, secret)
        if error is not None:
            return error
        with self._lock:
            current = self._stable.get(appid)
            left = self._remaining(current) if current is not None else None
            if current is not None and left is not None and body.get("force_refresh") is not True:
                return 200, {"access_token": current, "expires_in": left}
            if current is not None and current in self._tokens:
                del self._tokens[current]
                self._dead_tokens[current] = 40001
            token = self._issue(_OA)
            self._stable[appid] = token
        return 200, {"access_token": token, "expires_in": math.ceil(self._token_ttl)}

    def _wecom_token(self, query: dict[str, str], body: Any) -> _Reply:
        """``GET /cgi-bin/gettoken``: current WeCom token per (corpid, corpsecret)."""
        corpid, corpsecret = query.get("corpid"), query.get("corpsecret")
        if not corpid:
            return _error(41002, "corpid missing")
        if not corpsecret:
            return _error(41004, "corpsecret missing")
        if self._corpid is not None and corpid != self._corpid:
            return _error(40013, "invalid corpid")
        if self._corpsecret is not None and corpsecret != self._corpsecret:
            return _error(40001)
        with self._lock:
            current = self._wecom_current.get((corpid, corpsecret))
            left = self._remaining(current) if current is not None else None
            if current is None or left is None:
                current, left = self._issue(_WECOM), math.ceil(self._token_ttl)
                self._wecom_current[(corpid, corpsecret)] = current
        return 200, {**_OK, "access_token": current, "expires_in": left}

    def _delivered(self, path: str, users: list[str]) -> None:
        """Count a successful send to ``users`` and wake ``wait_for_sends`` (lock not held)."""
        with self._changed:
            self._send_counts[path] += 1
            for user in users:
                self._deliveries[user] += 1
            self._changed.notify_all()

    def _custom_send(self, query: dict[str, str], body: dict[str, Any]) -> _Reply:
        """``POST /cgi-bin/message/custom/send``: official-account customer-service message."""
        touser = body.get("touser")
        if not isinstance(touser, str) or not touser:
            return _error(40003)
        msgtype = body.get("msgtype")
        if msgtype not in _OA_MSGTYPES:
            return _error(40008)
        if msgtype == "text" and not _text_content(body):
            return _error(44004)
        if msgtype == "text" and len(_text_content(body).encode()) > MAX_TEXT_BYTES:
            return _error(45002)  # content size out of limit: WeChat refuses it
        self._delivered(CUSTOM_SEND_PATH, [touser])
        return 200, dict(_OK)

    def _template_send(self, query: dict[str, str], body: dict[str, Any]) -> _Reply:
        """``POST /cgi-bin/message/template/send``: template message, answers a msgid."""
        touser = body.get("touser")
        if not isinstance(touser, str) or not touser:
            return _error(40003)
        template_id = body.get("template_id")
        if not isinstance(template_id, str) or not template_id:
            return _error(40037)
        if "data" in body and not isinstance(body["data"], dict):
            return _error(47001)
        with self._lock:
            msgid = next(self._msgid_seq)
        self._delivered(TEMPLATE_SEND_PATH, [touser])
        return 200, {**_OK, "msgid": msgid}

    def _subscribe_send(self, query: dict[str, str], body: dict[str, Any]) -> _Reply:
        """``POST /cgi-bin/message/subscribe/bizsend``: a subscription notification (订阅通知). Documented to
        answer only errcode/errmsg; with :meth:`answer_subscribe_msgids` it adds a msgid as WeChat does."""
        touser = body.get("touser")
        if not isinstance(touser, str) or not touser:
            return _error(40003)
        template_id = body.get("template_id")
        if not isinstance(template_id, str) or not template_id:
            return _error(40037)
        data = body.get("data")
        if not isinstance(data, dict) or not all(isinstance(v, dict) and "value" in v for v in data.values()):
            return _error(47003)
        with self._lock:
            msgid = next(self._msgid_seq) if self._subscribe_msgids else None
        self._delivered(SUBSCRIBE_SEND_PATH, [touser])
        return 200, {**_OK, "msgid": msgid} if msgid is not None else dict(_OK)

    def _ticket(self, query: dict[str, str], body: Any) -> _Reply:
        """``GET /cgi-bin/ticket/getticket?type=jsapi``: the JS-SDK ticket, a new one on every call."""
        if query.get("type") != "jsapi":
            return _error(40097)
        with self._lock:
            ticket = f"fake-jsapi-ticket-{next(self._ticket_seq)}"
        return 200, {**_OK, "ticket": ticket, "expires_in": math.ceil(self._token_ttl)}

    def _wecom_send(self, query: dict[str, str], body: dict[str, Any]) -> _Reply:
        """``POST /cgi-bin/message/send``: WeCom app message to ``touser`` "a|b|c"."""
        users = _recipients(WECOM_SEND_PATH, body)
        if not users and not body.get("toparty") and not body.get("totag"):
            return _error(81013)
        agentid = body.get("agentid")
        if isinstance(agentid, bool) or not (
            isinstance(agentid, int) or (isinstance(agentid, str) and agentid.isdigit())
        ):
            return _error(40056)
        msgtype = body.get("msgtype")
        if msgtype not in _WECOM_MSGTYPES:
            return _error(40008)
        if msgtype == "text" and not _text_content(body):
            return _error(44004)
        with self._lock:
            msgid = f"wecom-msg-{next(self._msgid_seq)}"
        self._delivered(WECOM_SEND_PATH, users)
        return 200, {**_OK, "invaliduser": "", "msgid": msgid}

    def _media_get(self, query: dict[str, str], body: Any) -> _Reply:
        """``GET /cgi-bin/media/get``: the file behind a media_id of the token's API; 40007 when unknown or expired."""
        with self._lock:
            issued = self._tokens.get(query.get("access_token", ""))
            found = self._media.get((issued.kind, query.get("media_id", ""))) if issued else None
        if found is None:
            return _error(40007)
        return 200, found

    def qrcode_scenes(self) -> dict[str, str]:
        """The permanent QR codes made so far: ticket -> scene string."""
        with self._lock:
            return dict(self._qrcodes)

    def _qrcode_create(self, query: dict[str, str], body: dict[str, Any]) -> _Reply:
        """``POST /cgi-bin/qrcode/create``: a permanent code with a string scene (the same scene, the same
        ticket, as WeChat answers); temporary and numeric-scene codes are not faked."""
        info = body.get("action_info")
        scene = info.get("scene") if isinstance(info, dict) else None
        scene_str = scene.get("scene_str") if isinstance(scene, dict) else None
        if body.get("action_name") != "QR_LIMIT_STR_SCENE" or not isinstance(scene_str, str):
            return _error(40097)
        if not 1 <= len(scene_str) <= 64:
            return _error(40097, "invalid scene_str size")
        ticket = "gQ" + zlib.crc32(scene_str.encode()).to_bytes(4, "big").hex() + "fakeqrticket"
        with self._lock:
            self._qrcodes[ticket] = scene_str
        return 200, {"ticket": ticket, "url": f"http://weixin.qq.com/q/fake-{ticket}"}

    def _qrcode_show(self, query: dict[str, str], body: Any) -> _Reply:
        """``GET /cgi-bin/showqrcode?ticket=``: the code's image (a PNG here; WeChat serves a JPEG), 404 when unknown."""
        with self._lock:
            scene = self._qrcodes.get(query.get("ticket", ""))
        if scene is None:
            return 404, "fake_wechat: no such QR code ticket"
        shade = zlib.crc32(scene.encode())
        return 200, Binary(png(29, 29, (shade & 0xFF, (shade >> 8) & 0xFF, (shade >> 16) & 0xFF)), "image/png")

    def _menu_create(self, query: dict[str, str], body: dict[str, Any]) -> _Reply:
        """``POST /cgi-bin/menu/create``: store the menu."""
        buttons = body.get("button")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            return _error(40016)
        with self._lock:
            self._menu = body
        return 200, dict(_OK)


def _api_of(channel: str) -> str:
    if channel not in ("wechat", "wecom"):
        raise ValueError(f"channel is wechat or wecom, not {channel!r}")
    return _OA if channel == "wechat" else _WECOM


def png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (220, 80, 40)) -> bytes:
    """A small valid PNG of one colour (photos the fake serves)."""
    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _text_content(body: dict[str, Any]) -> str:
    """The ``text.content`` of a text message body, or "" when absent or malformed."""
    text = body.get("text")
    content = text.get("content") if isinstance(text, dict) else None
    return content if isinstance(content, str) else ""


def _recipients(path: str, body: dict[str, Any]) -> list[str]:
    """Recipients of a send body; WeCom ``touser`` "a|b" expands to ``["a", "b"]``."""
    touser = body.get("touser")
    if not isinstance(touser, str):
        return []
    if path == WECOM_SEND_PATH:
        return [user for user in touser.split("|") if user]
    return [touser] if touser else []
