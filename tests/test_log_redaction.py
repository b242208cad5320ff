"""No credential, access token or openid reaches a log line: the process's log handler (bot/logs.py)
redacts them, httpx's per-request lines are held back, and database errors hide their parameters."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session, sessionmaker

from bot import logs
from bot.app import create_app
from bot.clock import FakeClock
from bot.services import outbox, people
from scheduler.runner import make_outbox_worker
from storage.db import transaction
from storage.models import AccessToken, Person
from tests.conftest import make_settings
from tests.fake_wechat import CUSTOM_SEND_PATH, WECOM_SEND_PATH, FakeWeChat
from tests.wxclient import DEFAULT_WECHAT, DEFAULT_WECOM, WeChatCallbackClient, WeComCallbackClient

APP_SECRET = "AppSecret-5f4e3d2c1b0a9988"
CORP_SECRET = "CorpSecret-0a1b2c3d4e5f6677"
OPENID = "oXyZ12345abcdeFGHIJ-klmno_pq"  # 28 characters, the shape of a real openid
WECOM_USER = "ZhangWei-1986"


@pytest.fixture
def production_log(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """The log handler a process installs at start-up (LOG_LEVEL from the test's parameter), into a buffer."""
    level = request.param
    stream = io.StringIO()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in ("", *logs.HELD_BACK)}
    handler = logs.configure(level, stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        for name, saved_level in saved.items():
            logging.getLogger(name).setLevel(saved_level)


def _queue(factory: sessionmaker[Session], clock: FakeClock, channel: str, user: str, text: str) -> None:
    with transaction(factory) as session:
        person = people.get_or_create(session, channel=channel, external_id=user)
        people.touch_inbound(person, now=clock.now())
        outbox.enqueue_text(session, person_id=person.id, text=text, key=f"log:{user}", now=clock.now())


@pytest.mark.parametrize("production_log", ["INFO", "DEBUG"], indirect=True)
def test_token_fetch_and_sends_leave_no_secret_in_the_log(
    production_log: io.StringIO, db_url: str, fake: FakeWeChat, clock: FakeClock, factory: sessionmaker[Session]
) -> None:
    settings = make_settings(db_url, fake.base_url, wechat_app_secret=APP_SECRET, wecom_secret=CORP_SECRET)
    app = create_app(settings, clock)
    try:
        _queue(factory, clock, "wechat", OPENID, "您的提议已受理")
        _queue(factory, clock, "wecom", WECOM_USER, "新的协商活动")
        with httpx.Client(timeout=5) as http:
            worker = make_outbox_worker(app.state.runtime, http)
            assert worker.run_once() == 2
            logging.getLogger("shangliang.test").info("sent to %s with %s", OPENID, APP_SECRET)
    finally:
        app.state.runtime.close()
    assert [c.json["touser"] for c in fake.calls(CUSTOM_SEND_PATH)] == [OPENID]
    assert fake.calls(WECOM_SEND_PATH)
    with factory() as session:
        tokens = list(session.scalars(select(AccessToken.token)))
    assert len(tokens) == 2
    logged = production_log.getvalue()
    assert "sent to" in logged  # the handler is live
    for secret in (APP_SECRET, CORP_SECRET, *tokens, OPENID):
        assert secret not in logged
    if logging.getLogger().level == logging.DEBUG:
        assert "/cgi-bin/token" in logged  # at DEBUG the request lines are there, redacted
    else:
        assert "HTTP Request" not in logged  # at INFO httpx keeps quiet


@pytest.mark.parametrize("production_log", ["INFO"], indirect=True)
@pytest.mark.parametrize("channel", ["wechat", "wecom"])
def test_a_database_error_does_not_log_the_openid(
    production_log: io.StringIO,
    channel: str,
    db_url: str,
    fake: FakeWeChat,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A statement failing with the sender's id among its parameters (a unique key on PostgreSQL names
    its value too): the message gets the error reply, the traceback is logged, the id is not."""
    real = people.arrive

    def clashing(connection: Connection, **kwargs: object) -> object:
        found = real(connection, **kwargs)  # type: ignore[arg-type]
        connection.execute(insert(Person).values(channel=kwargs["channel"], external_id=kwargs["external_id"]))
        return found

    monkeypatch.setattr("bot.pipeline.people.arrive", clashing)
    app = create_app(make_settings(db_url, fake.base_url), clock)
    user = OPENID if channel == "wechat" else WECOM_USER
    with TestClient(app) as http:
        client = (
            WeChatCallbackClient(http, clock=clock, **DEFAULT_WECHAT)
            if channel == "wechat"
            else WeComCallbackClient(http, clock=clock, **DEFAULT_WECOM)
        )
        assert "没有处理成功" in client.send_text(user, "你好").content
    app.state.runtime.close()
    logged = production_log.getvalue()
    assert "IntegrityError" in logged
    assert user not in logged
