"""The application: the callback front (bot/channels/front.py) before a FastAPI app for the rest
(admin, simulator, pages, health and metrics)."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from bot import logs
from bot.channels.common import Freshness, ReplyRunner
from bot.channels.crypto import MessageCrypto
from bot.channels.front import CallbackFront
from bot.clock import Clock, SystemClock
from bot.context import Services
from bot.metrics import exposition
from bot.outbound.api import WeChatApi
from bot.outbound.tokens import TokenCache
from bot.pipeline import STATEMENT_TIMEOUT_MS, Pipeline
from bot.runtime import Runtime
from bot.services import keywords
from bot.services.privacy import Sealer
from bot.settings import Settings, get_settings
from bot.web import admin, board, ics, live, photos, simulator, subscribe
from storage.db import make_engine, make_session_factory

log = logging.getLogger(__name__)


def _crypto(token: str, aes_key: str, receive_id: str) -> MessageCrypto | None:
    return MessageCrypto(token, aes_key, receive_id) if aes_key else None


def pipeline_threads(settings: Settings) -> int:
    """Threads running the message pipeline: one on SQLite, else PIPELINE_THREADS (default 2 per CPU).

    Never more than the pool keeps: each thread holds one connection for a message, and threads
    beyond the pool make the overflow open and close connections per message (measured on the
    callback bench: 32 threads on a pool of 10 gave 135 msg/s, 10 threads 160-185 and half the p99).
    """
    if settings.is_sqlite:
        # SQLite takes one writer at a time: one pipeline thread queues messages in order instead of
        # letting threads collide on the file lock, whose busy handler sleeps (seconds of tail latency).
        return 1
    # Default: two per CPU (at least 4), within the pool. More threads than that only queue on the GIL
    # and the row locks (bench/README.md: on 2 CPUs, 4 threads beat 10 by a fifth).
    threads = settings.pipeline_threads or min(settings.db_pool_size, max(4, 2 * (os.cpu_count() or 1)))
    if threads > settings.db_pool_size:
        log.warning(
            "PIPELINE_THREADS=%d is more than DB_POOL_SIZE=%d: using %d threads (raise DB_POOL_SIZE for more)",
            threads,
            settings.db_pool_size,
            settings.db_pool_size,
        )
        threads = settings.db_pool_size
    return threads


def _engines(settings: Settings, threads: int) -> tuple[Engine, Engine]:
    """The engine for everything, and the one messages are handled on (the same one on SQLite).

    On PostgreSQL the message path keeps `threads` of the pool's connections for itself, opened with
    its statement and lock timeouts (one statement less per message than setting them per transaction);
    the rest of the pool serves pages and jobs, unbounded. DB_POOL_SIZE stays the kept total.
    """
    if settings.is_sqlite:
        engine = make_engine(settings.database_url)
        return engine, engine
    engine = make_engine(
        settings.database_url,
        pool_size=max(1, settings.db_pool_size - threads),
        max_overflow=settings.db_max_overflow,
    )
    message_engine = make_engine(
        settings.database_url, pool_size=threads, max_overflow=0, statement_timeout_ms=STATEMENT_TIMEOUT_MS
    )
    return engine, message_engine


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    clock = clock or SystemClock()
    logs.remember_settings(settings)
    threads = pipeline_threads(settings)
    engine, message_engine = _engines(settings, threads)
    factory = make_session_factory(engine)
    services = Services(settings=settings, clock=clock, sealer=Sealer(settings.secret_key.get_secret_value()))
    pipeline = Pipeline(make_session_factory(message_engine) if message_engine is not engine else factory, services)
    web_http = httpx.Client(timeout=httpx.Timeout(5.0, connect=3.0))
    return Runtime(
        settings=settings,
        clock=clock,
        engine=engine,
        message_engine=message_engine,
        factory=factory,
        services=services,
        pipeline=pipeline,
        runner=ReplyRunner(pipeline, settings.reply_deadline, workers=threads, at_once=settings.is_sqlite),
        freshness=Freshness(clock, settings.signature_max_age),
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
        web_http=web_http,
        wechat_api=WeChatApi(settings, TokenCache(factory, clock), web_http),
    )


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> CallbackFront:
    """`/wechat` and `/wecom` answered by the lean front, the rest by FastAPI (`.state` is FastAPI's)."""
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
            runtime.close()

    app = FastAPI(title="shangliang 商量", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    app.include_router(ics.router)
    app.include_router(live.router)
    app.include_router(board.router)
    app.include_router(photos.router)
    app.include_router(subscribe.router)
    admin.mount(app, runtime)
    if settings.simulator_enabled:
        app.include_router(simulator.router)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """200 `{"status": "ok"}` when the database answers, 503 otherwise (a load balancer routes around
        us). While callbacks are refused for a skewed clock it says so (`clock_skew_seconds`, `warning`),
        still with 200: an old signed URL replayed at us looks the same, and must not take us out of rotation."""
        try:
            with runtime.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            log.warning("health check: database unavailable (%s)", type(exc).__name__)
            return JSONResponse({"status": "database unavailable"}, status_code=503)
        return JSONResponse({"status": "ok", **runtime.freshness.report()})

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus: every worker of this `serve` (bot/metrics.py), and the outbox backlog."""
        return Response(exposition(runtime.factory, runtime.clock), media_type=CONTENT_TYPE_LATEST)

    return CallbackFront(app, runtime)
