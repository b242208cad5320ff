"""The FastAPI application: thin wiring of channels, simulator, health and metrics."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from bot.channels import wechat, wecom
from bot.channels.common import ReplyRunner
from bot.channels.crypto import MessageCrypto
from bot.clock import Clock, SystemClock
from bot.context import Services
from bot.pipeline import Pipeline
from bot.runtime import Runtime
from bot.services import keywords
from bot.services.privacy import Sealer
from bot.settings import Settings, get_settings
from bot.web import admin, ics, live, simulator
from storage.db import make_engine, make_session_factory

log = logging.getLogger(__name__)


def _crypto(token: str, aes_key: str, receive_id: str) -> MessageCrypto | None:
    return MessageCrypto(token, aes_key, receive_id) if aes_key else None


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    services = Services(settings=settings, clock=clock, sealer=Sealer(settings.secret_key.get_secret_value()))
    pipeline = Pipeline(factory, services)
    return Runtime(
        settings=settings,
        clock=clock,
        engine=engine,
        factory=factory,
        services=services,
        pipeline=pipeline,
        # SQLite takes one writer at a time: one pipeline thread queues messages in order instead of
        # letting threads collide on the file lock, whose busy handler sleeps (seconds of tail latency).
        runner=ReplyRunner(pipeline, settings.reply_deadline, workers=1 if settings.is_sqlite else 32),
        wechat_crypto=_crypto(
            settings.wechat_token.get_secret_value(),
            settings.wechat_encoding_aes_key.get_secret_value(),
            settings.wechat_app_id,
        ),
        wecom_crypto=_crypto(
            settings.wecom_token.get_secret_value(),
            settings.wecom_encoding_aes_key.get_secret_value(),
            settings.wecom_corp_id,
        ),
    )


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = build_runtime(settings, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        keywords.warm_up()
        background = None
        if settings.run_scheduler:
            from scheduler.runner import BackgroundServices

            background = BackgroundServices(runtime)
            background.start()
        try:
            yield
        finally:
            if background is not None:
                background.stop()
            runtime.runner.close()
            runtime.engine.dispose()

    app = FastAPI(title="shangliang 商量", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    app.include_router(wechat.router)
    app.include_router(wecom.router)
    app.include_router(ics.router)
    app.include_router(live.router)
    admin.mount(app, runtime)
    if settings.simulator_enabled:
        app.include_router(simulator.router)

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> PlainTextResponse:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return PlainTextResponse("ok")

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
