"""Everything one process builds once at start-up and shares between requests (all stateless)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.common import Freshness, ReplyRunner
from bot.channels.crypto import MessageCrypto
from bot.clock import Clock
from bot.context import Services
from bot.pipeline import Pipeline
from bot.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: Engine
    factory: sessionmaker[Session]
    services: Services
    pipeline: Pipeline
    runner: ReplyRunner
    freshness: Freshness
    wechat_crypto: MessageCrypto | None
    wecom_crypto: MessageCrypto | None


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
