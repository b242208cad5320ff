"""Typed settings, read from the environment or `.env` (documented in `.env.example`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time, timedelta
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

DEV_SECRET = "dev-only-secret-change-me"
# Not a setting: prometheus_client's multiprocess directory, which `serve` creates for its workers
# (bot/cli.py) and /metrics reads (bot/metrics.py). prometheus_client reads it when first imported.
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def parse_duration(text: str | timedelta | int) -> timedelta:
    """Parse `90s`, `5m`, `2h`, `3d` (a bare number means seconds)."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int):
        return timedelta(seconds=text)
    if text.strip().isdigit():
        return timedelta(seconds=int(text))
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (write 90s, 5m, 2h or 3d)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_durations(text: str | list[timedelta]) -> list[timedelta]:
    if isinstance(text, list):
        return [parse_duration(t) for t in text]
    return sorted((parse_duration(part) for part in text.split(",") if part.strip()), reverse=True)


DEFAULT_MINIMUMS = "district:4,town:2,village:3,enterprise:1,sector:1"


def parse_minimums(text: str | dict[str, int]) -> dict[str, int]:
    """`town:2,village:3,enterprise:1,sector:1` -> yearly minimum sessions per room level."""
    if isinstance(text, dict):
        return {str(k): int(v) for k, v in text.items()}
    out: dict[str, int] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        level, sep, number = part.partition(":")
        if not sep or not number.strip().isdigit():
            raise ValueError(f"not a minimum: {part!r} (write town:2,village:3,enterprise:1,sector:1)")
        out[level.strip()] = int(number)
    return out


# The kinds of message a subscription template (订阅通知) is chosen for, and the routes a message past
# WeChat's 48-hour window may take, in the default order (README, "Connect a real official account").
SUBSCRIBE_KINDS = ("result", "followup", "reminder", "notice")
DELIVERY_ROUTES = ("custom", "subscribe", "template")
_TEMPLATE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_FIELD_KEY = re.compile(r"^[a-z_]+\d+$")


@dataclass(frozen=True)
class SubscribeTemplate:
    """A subscription template: its id and the keys of its fields, in the order our values fill them."""

    template_id: str
    keys: tuple[str, ...]


def default_keys(kind: str) -> tuple[str, ...]:
    """thing1, thing2 for reminders (the text in two pieces); thing1…thing4 for the others (item, result, state, how)."""
    return ("thing1", "thing2") if kind == "reminder" else ("thing1", "thing2", "thing3", "thing4")


def parse_subscribe_templates(text: str | dict[str, SubscribeTemplate]) -> dict[str, SubscribeTemplate]:
    """`result:ID,reminder:ID:thing1/time2` -> the subscription template of each kind (keys default per kind)."""
    if isinstance(text, dict):
        return text
    out: dict[str, SubscribeTemplate] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        kind, _, rest = part.strip().partition(":")
        template_id, _, keys = rest.partition(":")
        fields = tuple(k.strip() for k in keys.split("/")) if keys else default_keys(kind)
        if kind not in SUBSCRIBE_KINDS or kind in out:
            raise ValueError(f"not a kind, or twice: {part!r} (kinds: {', '.join(SUBSCRIBE_KINDS)})")
        if not _TEMPLATE_ID.match(template_id.strip()) or not all(_FIELD_KEY.match(k) for k in fields):
            raise ValueError(f"not a template: {part!r} (write result:TEMPLATE_ID or result:TEMPLATE_ID:thing1/thing2)")
        out[kind] = SubscribeTemplate(template_id.strip(), fields)
    return out


def parse_routes(text: str | list[str]) -> list[str]:
    """`custom,subscribe,template`: each route once, at least one."""
    routes = [r.strip() for r in text] if isinstance(text, list) else [r.strip() for r in text.split(",") if r.strip()]
    if not routes or len(set(routes)) != len(routes) or not set(routes) <= set(DELIVERY_ROUTES):
        raise ValueError(f"not an order: {text!r} (write custom,subscribe,template in the order wanted)")
    return routes


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
# NoDecode: the env value is `3d,2h`, not JSON.
Durations = Annotated[list[timedelta], NoDecode, BeforeValidator(parse_durations)]
MinSessions = Annotated[dict[str, int], NoDecode, BeforeValidator(parse_minimums)]
SubscribeTemplates = Annotated[dict[str, SubscribeTemplate], NoDecode, BeforeValidator(parse_subscribe_templates)]
Routes = Annotated[list[str], NoDecode, BeforeValidator(parse_routes)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite:///./data/shangliang.db"
    redis_url: str | None = None
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    public_base_url: str = "http://127.0.0.1:8000"

    wechat_app_id: str = "wx0000000000000000"
    wechat_app_secret: SecretStr = SecretStr("")
    wechat_token: SecretStr = SecretStr("shangliang-dev-token")
    wechat_encoding_aes_key: SecretStr = SecretStr("")
    wechat_message_mode: Literal["auto", "plain", "compat", "safe"] = "auto"
    wechat_api_base_url: str = "https://api.weixin.qq.com"
    # Where a QR code's image is fetched by its ticket (showqrcode); tests point it at the fake API too.
    wechat_qrcode_image_base_url: str = "https://mp.weixin.qq.com"
    qrcode_dir: str = "./data/qrcodes"  # where `shangliang qrcode` and the admin save the codes' images
    wechat_template_result: str = ""
    wechat_template_reminder: str = ""
    # Follow-up question, progress and 回头看 answers; same fields as the result template. Empty: the result template.
    wechat_template_followup: str = ""
    # Subscription notifications (订阅通知, 长期订阅) by kind, and the order of the ways out past 48 hours.
    wechat_subscribe_templates: SubscribeTemplates = Field(default_factory=dict)
    wechat_delivery_order: Routes = Field(default_factory=lambda: list(DELIVERY_ROUTES))

    wecom_corp_id: str = "ww0000000000000000"
    wecom_agent_id: str = "1000002"
    wecom_secret: SecretStr = SecretStr("")
    wecom_token: SecretStr = SecretStr("shangliang-dev-token")
    wecom_encoding_aes_key: SecretStr = SecretStr("")
    wecom_api_base_url: str = "https://qyapi.weixin.qq.com"

    reminder_offsets: Durations = Field(default_factory=lambda: parse_durations("3d,2h"))
    # How often the scheduler leader picks up sessions changed by other processes and sends what fell due.
    reminder_sweep_interval: Duration = timedelta(seconds=30)
    dialog_timeout: Duration = timedelta(minutes=30)
    signature_max_age: int = 300
    followup_after: Duration = timedelta(days=30)
    overdue_reminder_time: time = time(9, 0)  # 督办: local time of the daily reminder about overdue items
    # Clocks in working days (bot/services/clocks.py, docs/clocks.md): past a limit an item is in its
    # convenors' 督办; past the limit plus CLOCK_ESCALATE_WORKDAYS, in the parent room's convenors' too.
    proposal_answer_workdays: int = Field(default=5, ge=1)  # first answer to a proposal (受理 / 合并 / 不予采纳 / 审定)
    approval_workdays: int = Field(default=10, ge=1)  # 审定 (or 不予采纳) after 受理, or after the supporter threshold
    suggestion_answer_workdays: int = Field(default=5, ge=1)  # answering a 微建言 (回应)
    clock_escalate_workdays: int = Field(default=5, ge=1)  # the second limit, after the first
    # N 附议 within M days moves a proposal to the top of 待审 with a deadline (APPROVAL_WORKDAYS).
    support_threshold: int = Field(default=10, ge=1)
    support_threshold_days: int = Field(default=30, ge=1)
    # Convenors hear of new items in one message per batch, during the day; 0 sends each at once.
    notice_batch_interval: Duration = timedelta(minutes=30)
    notice_day_start: time = time(8, 0)
    notice_day_end: time = time(20, 0)
    digest_time: time = time(9, 0)  # local time of the monthly digest on the 1st
    min_sessions_per_year: MinSessions = Field(default_factory=lambda: parse_minimums(DEFAULT_MINIMUMS))
    timezone: str = "Asia/Shanghai"

    reply_deadline: float = 4.0
    max_body_bytes: int = 64 * 1024
    run_scheduler: bool = True
    # Scale-out (PostgreSQL): persistent connections per process, extra ones for bursts, and the threads
    # that run the message pipeline (0: as many as DB_POOL_SIZE; SQLite always uses one).
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    pipeline_threads: int = Field(default=0, ge=0)
    # Official-account API calls an outbox worker has in flight at once (scheduler/outbox.py). 1 keeps the
    # promise that a crashed worker sends at most one message twice; 8 sends a large broadcast about twice as
    # fast (bench/README.md), and a crash may then send its last wave (up to 8) twice.
    outbox_concurrency: int = Field(default=1, ge=1, le=64)
    leader_check_interval: Duration = timedelta(seconds=5)  # standby retry / leader liveness check
    # The chat simulator at /simulator: on in development and test, off in production unless set.
    simulator_enabled: bool = True
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _production_defaults(self) -> Settings:
        """What is on by default in development is off in production unless written out."""
        if "simulator_enabled" not in self.model_fields_set:
            self.simulator_enabled = self.env != "production"
        return self

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.env == "production":
            if self.secret_key.get_secret_value() == DEV_SECRET:
                raise ValueError("SECRET_KEY must be set to a real secret in production")
            if self.wechat_token.get_secret_value() == "shangliang-dev-token":
                raise ValueError("WECHAT_TOKEN must be set in production")
        return self

    @property
    def wechat_plaintext_refused(self) -> bool:
        """Safe mode: a plaintext POST is refused (its signature does not cover the body)."""
        mode = self.wechat_message_mode
        return mode == "safe" or (mode == "auto" and bool(self.wechat_encoding_aes_key.get_secret_value()))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
