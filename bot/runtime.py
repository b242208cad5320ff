"""Everything one process builds once at start-up and shares between requests (all stateless)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.common import Freshness, ReplyRunner
from bot.channels.crypto import MessageCrypto
from bot.clock import Clock
from bot.context import Services
from bot.outbound.api import WeChatApi
from bot.pipeline import Pipeline
from bot.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: Engine
    message_engine: Engine  # the pipeline's: `engine` itself on SQLite, its own bounded pool on PostgreSQL
    factory: sessionmaker[Session]
    services: Services
    pipeline: Pipeline
    runner: ReplyRunner
    freshness: Freshness
    wechat_crypto: MessageCrypto | None
    wecom_crypto: MessageCrypto | None
    # The web side's own API client: the subscribe page's JS-SDK ticket (the outbox worker has its own).
    web_http: httpx.Client
    wechat_api: WeChatApi

    def close(self) -> None:
        """What the process opened: the web API client's connections, Redis and the database pools."""
        self.wechat_api.close()
        self.web_http.close()
        self.pipeline.close()
        self.message_engine.dispose()
        self.engine.dispose()


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
