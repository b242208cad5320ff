"""Logging for every process: one handler whose formatter redacts credentials, tokens and openids
from the finished line (message, traceback and all), and chatty libraries held back.

httpx logs every request URL at INFO: the token fetch carries `secret=<AppSecret>` (WeCom:
`corpsecret`), every API call `access_token`. SQLAlchemy puts a failed statement's parameters in
its error text (the engine hides them, storage/db.py), and PostgreSQL names a clashing key's values
in the error's DETAIL. Whatever gets through is caught here, on the way out.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from typing import Any, TextIO

from bot.services.privacy import mask_id
from bot.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "***"
# Libraries held at WARNING unless LOG_LEVEL=DEBUG: httpx logs each request (URL and all) at INFO,
# APScheduler every run of every job (the broadcast report job runs every 20 s).
HELD_BACK = ("httpx", "httpcore", "apscheduler")

# Query parameters and JSON fields that carry a credential, a signature or an identity.
_NAMES = (
    r"(?:corp)?secret|appsecret|access_token|refresh_token|token|password|msg_signature|signature|openid|key|echostr"
)
_QUERY = re.compile(rf"(?i)(?<![A-Za-z0-9_])({_NAMES})=([^&\s'\"<>]+)")
_FIELD = re.compile(rf"(?i)([\"']({_NAMES})[\"']\s*:\s*[\"'])([^\"']*)")
# An official account's openid (and unionid): 28 characters, starting with `o`.
_OPENID = re.compile(r"(?<![A-Za-z0-9_-])o[A-Za-z0-9_-]{27}(?![A-Za-z0-9_-])")
# PostgreSQL: `DETAIL:  Key (channel, external_id)=(wechat, oAbc…) already exists.`
_KEY_DETAIL = re.compile(r"(Key \([^)]*\)=\()(.*?)(\)(?: already exists| is not present|\.|$))", re.MULTILINE)
# Known values shorter than this are left alone: they would redact ordinary words.
MIN_SECRET_CHARS = 6
RECENT_TOKENS = 32


class _Secrets:
    """Values to cut out of every line: the configured credentials and the access tokens lately used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._configured: set[str] = set()
        self._tokens: deque[str] = deque(maxlen=RECENT_TOKENS)
        self._ordered: tuple[str, ...] = ()

    def add(self, *values: str, token: bool = False) -> None:
        fresh = [v for v in values if len(v) >= MIN_SECRET_CHARS and v not in self._ordered]
        if not fresh:
            return
        with self._lock:
            if token:
                self._tokens.extend(fresh)
            else:
                self._configured.update(fresh)
            # Longest first, so a value containing another is cut whole.
            self._ordered = tuple(sorted({*self._configured, *self._tokens}, key=len, reverse=True))

    def cut(self, text: str) -> str:
        for value in self._ordered:
            if value in text:
                text = text.replace(value, REDACTED)
        return text


_secrets = _Secrets()


def remember_settings(settings: Settings) -> None:
    """Register the deployment's credentials (and the passwords in its URLs) for redaction."""
    values = [
        secret.get_secret_value()
        for secret in (
            settings.secret_key,
            settings.wechat_app_secret,
            settings.wechat_token,
            settings.wechat_encoding_aes_key,
            settings.wecom_secret,
            settings.wecom_token,
            settings.wecom_encoding_aes_key,
        )
    ]
    values += [_url_password(url) for url in (settings.database_url, settings.redis_url or "")]
    _secrets.add(*values)


def remember_token(token: str) -> None:
    """An access token just used: redacted wherever it shows up, not only after `access_token=`."""
    _secrets.add(token, token=True)


def _url_password(url: str) -> str:
    match = re.match(r"^[A-Za-z0-9+.-]+://[^:/@]*:([^@/]*)@", url)
    return match.group(1) if match else ""


def redact(text: str) -> str:
    """The text with credentials, tokens, signatures and openids cut out."""
    text = _secrets.cut(text)
    text = _QUERY.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _FIELD.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _KEY_DETAIL.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)
    return _OPENID.sub(lambda m: mask_id(m.group(0)), text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole line, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def held_back_levels(level: str) -> dict[str, str]:
    debug = logging.getLevelName(level.upper()) == logging.DEBUG
    return {name: "DEBUG" if debug else "WARNING" for name in HELD_BACK}


def configure(level: str, *, stream: TextIO | None = None) -> logging.Handler:
    """Install the redacting handler on the root logger (for `shangliang worker` and the other commands)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter(FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, RedactingFormatter)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name, held in held_back_levels(level).items():
        logging.getLogger(name).setLevel(held)
    return handler


def uvicorn_config(level: str) -> dict[str, Any]:
    """The same set-up as `configure`, as uvicorn's `log_config`: each of its worker processes applies it."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"redacting": {"()": RedactingFormatter, "fmt": FORMAT}},
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "redacting", "stream": "ext://sys.stderr"}
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
        "loggers": {
            # uvicorn's own loggers go through the root handler (redacted) instead of their own.
            "uvicorn": {"level": "WARNING", "handlers": [], "propagate": True},
            "uvicorn.error": {"level": "WARNING"},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            **{name: {"level": held} for name, held in held_back_levels(level).items()},
        },
    }
