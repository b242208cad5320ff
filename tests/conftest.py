"""Test fixtures: a clean database per test (SQLite, or PostgreSQL when TEST_DATABASE_URL says so),
the app on it with a controllable clock, signed callback clients and a local fake WeChat API.

No test may depend on today's real date: the app runs on a FakeClock (fixed 2026-11-23) and nothing
here lets that clock meet the wall clock. In particular `job_scheduler` never fires a job by
wall-clock time (`scripts/future_dates.sh` runs the suite a year ahead to check)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.clock import FakeClock
from bot.runtime import Runtime
from bot.settings import Settings
from scheduler import jobs, reminders
from scheduler.media import MediaFetcher
from scheduler.outbox import OutboxWorker
from scheduler.runner import make_media_fetcher, make_outbox_worker
from storage.db import make_engine, make_session_factory, normalize_url
from storage.migrate import upgrade
from storage.models import Base
from tests.fake_wechat import FakeWeChat
from tests.processes import Processes
from tests.wxclient import DEFAULT_WECHAT, DEFAULT_WECOM, WeChatCallbackClient, WeComCallbackClient

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgres")


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL ' + make_url(normalize_url(TEST_DATABASE_URL)).render_as_string() if ON_POSTGRES else 'SQLite'}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What tests recorded as `record_property("summary", ...)` (how much a randomized test ran)."""
    for report in terminalreporter.getreports("passed"):
        for name, value in report.user_properties:
            if name == "summary":
                terminalreporter.write_line(str(value))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="needs PostgreSQL (set TEST_DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords and not ON_POSTGRES:
            item.add_marker(skip)


# --- databases -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite: one migrated file copied per test. PostgreSQL: one fresh database for the run."""
    if not ON_POSTGRES:
        template = tmp_path_factory.mktemp("db") / "template.db"
        upgrade(f"sqlite:///{template}")
        yield str(template)
        return
    url = make_url(normalize_url(TEST_DATABASE_URL))
    name = f"{url.database or 'shangliang'}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    test_url = url.set(database=name).render_as_string(hide_password=False)
    upgrade(test_url)
    yield test_url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def db_url(_database_template: str, tmp_path: Path) -> str:
    """A clean, migrated database for this test."""
    if not ON_POSTGRES:
        target = tmp_path / "test.db"
        shutil.copyfile(_database_template, target)
        return f"sqlite:///{target}"
    engine = create_engine(_database_template)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("DROP TABLE IF EXISTS apscheduler_jobs"))
    engine.dispose()
    return _database_template


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


# --- the app ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fake_api() -> Iterator[FakeWeChat]:
    with FakeWeChat() as fake:
        yield fake


@pytest.fixture
def fake(fake_api: FakeWeChat) -> FakeWeChat:
    """The fake WeChat/WeCom API, emptied for this test."""
    fake_api.reset()
    fake_api.clear_failures()
    return fake_api


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_settings(db_url: str, api_base: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": db_url,
        "wechat_token": DEFAULT_WECHAT["token"],
        "wechat_encoding_aes_key": DEFAULT_WECHAT["encoding_aes_key"],
        # 兼容模式: the suite posts plaintext (`wechat_plain`) and encrypted (`wechat`) to one app.
        "wechat_message_mode": "compat",
        "wechat_app_id": DEFAULT_WECHAT["app_id"],
        "wechat_app_secret": "test-secret",
        "wechat_api_base_url": api_base,
        "wechat_qrcode_image_base_url": api_base,
        "wecom_token": DEFAULT_WECOM["token"],
        "wecom_encoding_aes_key": DEFAULT_WECOM["encoding_aes_key"],
        "wecom_corp_id": DEFAULT_WECOM["corp_id"],
        "wecom_secret": "test-wecom-secret",
        "wecom_api_base_url": api_base,
        "run_scheduler": False,
        "secret_key": "test-secret-key",
        # In-process tests check what people are told, not how fast: a machine busy with other work must not
        # turn a slow reply into `success` + a later message. The deadline itself is tested with 0.2 s
        # (test_late_reply_and_outbox.py); real processes keep the 4 s default.
        "reply_deadline": 30.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(db_url: str, fake: FakeWeChat) -> Settings:
    return make_settings(db_url, fake.base_url)


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> Iterator[FastAPI]:
    application = create_app(settings, clock)
    yield application
    # Tests that never start the app (no lifespan) still opened connections through its engine.
    application.state.runtime.close()


@pytest.fixture
def runtime(app: FastAPI) -> Runtime:
    rt: Runtime = app.state.runtime
    return rt


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def wechat(client: TestClient, clock: FakeClock) -> WeChatCallbackClient:
    """The official account in safe mode (encrypted), signing with the app's clock."""
    return WeChatCallbackClient(client, clock=clock, **DEFAULT_WECHAT)


@pytest.fixture
def wechat_plain(client: TestClient, clock: FakeClock) -> WeChatCallbackClient:
    """The official account in plaintext mode."""
    return WeChatCallbackClient(
        client, token=DEFAULT_WECHAT["token"], encoding_aes_key=None, app_id=DEFAULT_WECHAT["app_id"], clock=clock
    )


@pytest.fixture
def wecom(client: TestClient, clock: FakeClock) -> WeComCallbackClient:
    return WeComCallbackClient(client, clock=clock, **DEFAULT_WECOM)


@pytest.fixture
def outbox_worker(runtime: Runtime) -> Iterator[OutboxWorker]:
    """The outbox worker, run by hand with `run_once()`, sending to the fake API."""
    with httpx.Client(timeout=5) as http:
        yield make_outbox_worker(runtime, http)


@pytest.fixture
def media_fetcher(runtime: Runtime) -> Iterator[MediaFetcher]:
    """The photo fetcher, run by hand with `run_once()`, fetching from the fake API."""
    with httpx.Client(timeout=5) as http:
        yield make_media_fetcher(runtime, http)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Real `shangliang` processes (tests/processes.py), every one stopped after the test."""
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


# --- the scheduler ---------------------------------------------------------------------------


class InertScheduler(BaseScheduler):
    """APScheduler with the app's job store, triggers and next run times, but no thread that fires
    jobs when the wall clock reaches them. Jobs are dated by the fake clock (2026-11-23 on), which
    the real date passes, so a scheduler that ran them by wall-clock time (or, like a paused
    BackgroundScheduler, once more while shutting down) would make tests depend on today's date.
    Tests call the job functions themselves, on the fake clock."""

    def wakeup(self) -> None:
        """No loop to wake: nothing here ever processes due jobs."""

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)  # abstract in BaseScheduler only to make subclasses stop their loop


@pytest.fixture
def job_scheduler(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[BaseScheduler]:
    """A scheduler on the app's database that keeps jobs but never fires one (see InertScheduler),
    with job functions bound to this runtime. Every test that needs a real scheduler uses this one."""
    monkeypatch.setattr(jobs, "_runtime", runtime)
    scheduler = InertScheduler(jobstores={"default": SQLAlchemyJobStore(engine=runtime.engine)}, timezone="UTC")
    scheduler.start(paused=True)
    yield scheduler
    reminders.stop()  # the session listener reminders.start() added
    scheduler.shutdown(wait=False)
